"""The container health check: a heartbeat written while the worker polls, read by
``python -m runtime.healthcheck``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.health import heartbeat_age, heartbeat_path, liveness_heartbeat
from runtime.healthcheck import check
from tests.support.processes import ROOT


@dataclass
class FakeWorker:
    is_running: bool = True
    is_shutdown: bool = False


async def test_first_beat_follows_start_up_not_a_whole_interval_later(tmp_path: Path) -> None:
    worker = FakeWorker(is_running=False)  # `async with worker` has not started run() yet
    async with liveness_heartbeat(worker, tmp_path, interval=30) as path:
        await asyncio.sleep(0.05)
        assert not path.exists()
        worker.is_running = True
        await asyncio.sleep(0.5)
        assert path.exists()


async def test_heartbeat_beats_only_while_the_worker_runs(tmp_path: Path) -> None:
    worker = FakeWorker()
    async with liveness_heartbeat(worker, tmp_path, interval=0.05) as path:
        await asyncio.sleep(0.1)
        assert path == heartbeat_path(tmp_path)
        first = path.stat().st_mtime_ns
        await asyncio.sleep(0.15)
        assert path.stat().st_mtime_ns > first, "no beat while running"

        worker.is_running = False  # the poller died: the file must go stale
        await asyncio.sleep(0.1)
        stopped = path.stat().st_mtime_ns
        await asyncio.sleep(0.15)
        assert path.stat().st_mtime_ns == stopped
    assert not path.exists(), "a stopped worker must not look healthy"


def test_check_fresh_stale_and_missing(tmp_path: Path) -> None:
    healthy, message = check(tmp_path, max_age=60)
    assert not healthy and "no heartbeat" in message
    path = heartbeat_path(tmp_path)
    path.touch()
    assert check(tmp_path, max_age=60)[0]
    old = time.time() - 120
    os.utime(path, (old, old))
    healthy, message = check(tmp_path, max_age=60)
    assert not healthy and "120s ago" in message
    assert heartbeat_age(path) is not None


def test_healthcheck_command_exit_codes(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "DATA_DIR": str(tmp_path)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.healthcheck"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    missing = run()
    assert missing.returncode == 1 and "no heartbeat" in missing.stderr
    heartbeat_path(tmp_path).touch()
    fresh = run()
    assert fresh.returncode == 0, fresh.stderr
    env["LOG_LEVEL"] = "LOUD"  # a broken configuration is unhealthy, not a crash
    broken = run()
    assert broken.returncode == 1 and "LOG_LEVEL" in broken.stderr
