"""Liveness for containers: the worker touches a heartbeat file while it polls.

Why a file and not the metrics endpoint: the Prometheus endpoint is served by the SDK's Rust
runtime from the moment the process starts, so it keeps answering after the Temporal worker has
stopped polling (a fatal poller error) or while the event loop is stuck. The heartbeat is
written by a task on the worker's own event loop, and only while the Temporal worker reports
itself running, so it goes stale in exactly those cases. ``python -m runtime.healthcheck`` (the
Dockerfile's HEALTHCHECK) reads its age.

``run_worker`` wraps its polling block in :func:`liveness_heartbeat`; the file lives under
DATA_DIR, which is private to each container.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

HEARTBEAT_FILE = "worker.heartbeat"
HEARTBEAT_INTERVAL_SECONDS = 10.0
# Six missed beats: long enough for a slow start-up or a GC pause, short enough that an
# orchestrator replaces a wedged worker within about a minute.
STALE_AFTER_SECONDS = 60.0
NOT_RUNNING_POLL_SECONDS = 0.2


class PollingWorker(Protocol):
    """What the heartbeat needs to know about a ``temporalio.worker.Worker``."""

    @property
    def is_running(self) -> bool: ...

    @property
    def is_shutdown(self) -> bool: ...


def heartbeat_path(data_dir: Path) -> Path:
    return data_dir / HEARTBEAT_FILE


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the last beat, or None when there is no heartbeat file."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return max(0.0, (time.time() if now is None else now) - modified)


@contextlib.asynccontextmanager
async def liveness_heartbeat(
    worker: PollingWorker,
    data_dir: Path,
    *,
    interval: float = HEARTBEAT_INTERVAL_SECONDS,
) -> AsyncIterator[Path]:
    """Touch ``DATA_DIR/worker.heartbeat`` every ``interval`` seconds while ``worker`` polls.

    Use it inside ``async with worker:``. The file is removed on exit, so a worker that shut
    down (or is shutting down) is never reported healthy.
    """
    path = heartbeat_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)

    async def beat() -> None:
        while True:
            if worker.is_running and not worker.is_shutdown:
                path.touch()
                await asyncio.sleep(interval)
            else:
                # Not polling (yet): look again soon, so the first beat follows start-up
                # closely instead of a whole interval later.
                await asyncio.sleep(min(interval, NOT_RUNNING_POLL_SECONDS))

    task = asyncio.create_task(beat(), name="liveness-heartbeat")
    try:
        yield path
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        path.unlink(missing_ok=True)
