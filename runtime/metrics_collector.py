"""The worker's fleet gauges: freshness, outbox backlog, staged pages, worker resources.

Counters and histograms are recorded where things happen (the client, the activities); these
gauges describe state, so a loop in each worker reads them from PostgreSQL every interval
(``collect_once``). Every worker replica exports the same fleet values; dashboards and alerts
take ``max without (instance)``. A credential deleted meanwhile keeps its last values until
the worker restarts (the SDK's gauges cannot drop a series).
"""

from __future__ import annotations

import asyncio
import time

import psutil
from temporalio.runtime import Runtime

from core import metrics
from core.logging import get_logger
from db import fleet_metrics
from db.database import Database
from db.schema import STREAMS
from servicetitan.observer import set_observer

log = get_logger(__name__)

COLLECT_INTERVAL_SECONDS = 30.0


def observe(runtime: Runtime | None) -> metrics.SyncMetrics:
    """Record the product metrics on ``runtime``'s meter, the ServiceTitan client's included."""
    recorder = metrics.install(runtime.metric_meter if runtime is not None else None)
    set_observer(recorder)
    return recorder


class ResourceSampler:
    """CPU and resident memory of this process and its children (the mapping processes)."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._cpu: dict[int, psutil.Process] = {}

    def sample(self) -> tuple[float, int]:
        """(CPU percent since the previous sample, 100 = one core; RSS bytes)."""
        processes = [self._process, *self._process.children(recursive=True)]
        cpu, rss = 0.0, 0
        known: dict[int, psutil.Process] = {}
        for process in processes:
            tracked = self._cpu.get(process.pid, process)
            try:
                cpu += tracked.cpu_percent(None)
                rss += tracked.memory_info().rss
            except psutil.Error:  # exited between listing and reading
                continue
            known[process.pid] = tracked
        self._cpu = known
        return cpu, rss


async def collect_once(
    database: Database, recorder: metrics.SyncMetrics, sampler: ResourceSampler
) -> None:
    """Read the fleet's state once and set every gauge."""
    async with database.transaction() as connection:
        streams = await fleet_metrics.freshness(connection)
        backlog = await fleet_metrics.backlog(connection)
    for item in streams:
        labels = {"credential_id": str(item.credential_id), "stream": item.stream}
        if item.data_age_seconds is not None:
            recorder.data_age.set(item.data_age_seconds, labels)
        if item.success_age_seconds is not None:
            recorder.success_age.set(item.success_age_seconds, labels)
    recorder.outbox_pending.set(backlog.outbox_pending)
    recorder.outbox_oldest_age.set(backlog.outbox_oldest_age_seconds)
    for stream in STREAMS:
        recorder.staged_waiting.set(backlog.staged_waiting.get(stream, 0), {"stream": stream})
    cpu, rss = sampler.sample()
    recorder.worker_cpu.set(cpu)
    recorder.worker_rss.set(rss)


async def collect(
    database: Database,
    recorder: metrics.SyncMetrics,
    *,
    interval_seconds: float = COLLECT_INTERVAL_SECONDS,
) -> None:
    """Refresh the gauges every ``interval_seconds`` until cancelled; never fails the worker."""
    sampler = ResourceSampler()
    while True:
        started = time.monotonic()
        try:
            await collect_once(database, recorder, sampler)
        except Exception as error:  # metrics must never take the worker down
            log.warning("fleet gauges not refreshed", error=f"{type(error).__name__}: {error}")
        await asyncio.sleep(max(1.0, interval_seconds - (time.monotonic() - started)))
