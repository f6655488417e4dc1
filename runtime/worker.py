"""Putting a worker process together: infrastructure, dependencies, the Temporal worker.

``build_worker`` is shared by ``worker.py`` and the tests (which point it at their own task
queue, database and sandbox). ``run_worker`` adds what a long-running process needs: the
embedded services, schema preparation, metrics, signal handling and a graceful shutdown that
lets running activities finish within WORKER_GRACEFUL_SHUTDOWN_SECONDS.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.dependencies import SyncDependencies
from activities.mapping_pool import close_shared_mapping_pool
from activities.registry import all_activities
from core.crypto import SecretBox, secret_box_from_settings
from core.infrastructure import Infrastructure, resolve_infrastructure
from core.logging import get_logger
from core.settings import Settings
from core.temporal import connect, ensure_search_attributes, metrics_runtime
from core.tracing import shutdown_tracing
from db import migrate
from db.database import Database
from runtime.activity_errors import ActivityErrorInterceptor
from runtime.alerting import export_gauges
from runtime.demo import run_demo
from runtime.metrics_collector import collect, observe
from runtime.servicetitan import client_config as sandbox_or_configured
from servicetitan.config import ClientConfig
from servicetitan.http import close_shared_http_client
from workflows import WORKFLOWS

log = get_logger(__name__)

# A service run beside the worker for its whole life, sharing its resources (the HTTP API on
# embedded defaults, wired by worker.py); cancelled when the worker shuts down.
Beside = Callable[
    [Settings, Client, Infrastructure, Database, SecretBox], Coroutine[Any, Any, None]
]


def worker_identity() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def make_dependencies(
    settings: Settings,
    database: Database,
    client_config: ClientConfig,
    temporal: Client | None,
    *,
    http: httpx.AsyncClient | None = None,
) -> SyncDependencies:
    keys = settings.credential_encryption_keys
    box = secret_box_from_settings(keys.get_secret_value() if keys else None, settings.data_dir)
    return SyncDependencies(
        settings=settings,
        database=database,
        box=box,
        client_config=client_config,
        temporal=temporal,
        identity=worker_identity(),
        http=http,
    )


STICKY_QUEUE_TIMEOUT = timedelta(seconds=3)


def own_task_queue(settings: Settings) -> str:
    """A task queue only this worker process polls (for the streams whose pages it holds)."""
    return f"{settings.temporal_task_queue}.worker-{uuid.uuid4().hex[:12]}"


def build_own_queue_worker(client: Client, settings: Settings, deps: SyncDependencies) -> Worker:
    """The worker of this process's own queue: the same activities, no workflows."""
    assert deps.worker_queue is not None
    return _activity_worker(client, settings, deps, deps.worker_queue)


def build_worker(
    client: Client, settings: Settings, deps: SyncDependencies, *, task_queue: str | None = None
) -> Worker:
    return _activity_worker(
        client,
        settings,
        deps,
        task_queue or settings.temporal_task_queue,
        workflows=WORKFLOWS,
        # A dead worker's cached workflows move to another worker after this long (default 10 s).
        sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
    )


def _activity_worker(
    client: Client, settings: Settings, deps: SyncDependencies, task_queue: str, **options: Any
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        activities=all_activities(deps),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        identity=deps.identity,
        interceptors=[ActivityErrorInterceptor()],  # no row values in failures (history)
        **options,
    )


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    """Run start-up extras (the demo) without letting their failure go unnoticed."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.error("start-up task failed", error=f"{type(error).__name__}: {error}")


async def run_worker(
    settings: Settings,
    *,
    client_config: ClientConfig | None = None,
    on_ready: Callable[[Client, Infrastructure], Coroutine[Any, Any, None]] | None = None,
    beside: Sequence[Beside] = (),
) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    infra = resolve_infrastructure(settings)
    migrate.prepare(infra.database_url, embedded=infra.embedded_database)
    runtime = metrics_runtime(settings.metrics_address)
    recorder = observe(runtime)
    client = await connect(settings, infra.temporal_address, runtime=runtime)
    await ensure_search_attributes(client, settings.temporal_namespace)
    database = Database(infra.database_url, pool_size=settings.worker_max_concurrent_activities)
    deps = make_dependencies(
        settings, database, client_config or sandbox_or_configured(settings), client
    )
    deps.worker_queue = own_task_queue(settings)
    worker = build_worker(client, settings, deps)
    own_queue = build_own_queue_worker(client, settings, deps)
    deps.mapping.start()  # its processes import while the worker connects and polls
    if on_ready is None and settings.sandbox_mode:
        log.info(
            "SERVICETITAN_APP_KEY is not set, so the local sandbox plays ServiceTitan (demo mode)",
            sandbox=deps.client_config.production.api_url,
        )

        async def on_ready(client: Client, infra: Infrastructure) -> None:
            await run_demo(client, infra, settings, database, deps.box)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with worker, own_queue:
            log.info(
                "worker polling",
                task_queue=settings.temporal_task_queue,
                own_task_queue=deps.worker_queue,
                namespace=settings.temporal_namespace,
                temporal=infra.temporal_address,
                ui=infra.temporal_ui_url,
                identity=deps.identity,
            )
            extra: asyncio.Task[None] | None = (
                asyncio.create_task(_logged(on_ready(client, infra))) if on_ready else None
            )
            alongside = [
                asyncio.create_task(_logged(run(settings, client, infra, database, deps.box)))
                for run in beside
            ]
            gauges = (
                asyncio.create_task(_logged(export_gauges(runtime, database, client, settings)))
                if runtime is not None
                else None
            )
            fleet = (
                asyncio.create_task(_logged(collect(database, recorder)))
                if runtime is not None
                else None
            )
            await stop.wait()
            log.info(
                "shutting down: letting running activities finish",
                grace_seconds=settings.worker_graceful_shutdown_seconds,
            )
            for task in (extra, gauges, fleet):
                if task is not None and not task.done():
                    task.cancel()
            for task in alongside:
                task.cancel()
            await asyncio.gather(*alongside, return_exceptions=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await close_shared_http_client()
        await database.close()
        await asyncio.to_thread(close_shared_mapping_pool)
        await asyncio.to_thread(shutdown_tracing)  # flush the last spans
    log.info("worker stopped")
