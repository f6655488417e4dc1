"""Record the workflow histories that ``test_replay.py`` replays. Not part of the suite.

Each test drives one scenario of ``scenarios.py`` through the real worker against a small
sandbox tenant, writes every run of the execution to ``histories/<scenario>[-runN].json``
and checks right away that the history shows its scenario. Run it only for a workflow that
has never been deployed, or after moving the previous histories aside (see
``test_replay.py``):

    ./dev test tests/replay/record_histories.py

``worker-crash`` SIGKILLs a worker process and waits out the heartbeat timeout (about 30 s);
the rest take a few seconds each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from contracts.sync import LaunchInput, LaunchResult
from db import credentials
from db.database import Database
from sandbox import endpoints
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.replay.history import read_runs
from tests.replay.scenarios import SCENARIOS
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment
from tests.sync.harness import SyncHarness, sync_harness, truncate_staged_pages
from workflows.launcher import ScheduledSyncWorkflow

HISTORIES = Path(__file__).parent / "histories"
TENANT, CUSTOMERS, INVOICES, PAGE = 3001, 60, 90, 20
"""5 contact, 3 customer and 5 invoice pages: fetches ramp 1, 2, then PAGES_PER_ACTIVITY."""
LATENCY = 0.05
"""Per request, for the scenarios that act while the sync runs."""


def _continued_to(event: HistoryEvent) -> str | None:
    if event.HasField("workflow_execution_continued_as_new_event_attributes"):
        return event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return None


async def _save(client: Client, name: str, handle: WorkflowHandle[Any, Any]) -> None:
    """Write every run of the execution ``handle`` started, then check it shows ``name``."""
    for old in HISTORIES.glob(f"{name}*.json"):
        if old.stem == name or old.stem.removeprefix(f"{name}-run").isdigit():
            old.unlink()
    histories = []
    run_id = handle.first_execution_run_id or handle.run_id
    while run_id is not None:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        run_id = _continued_to(history.events[-1])
    paths = []
    for index, history in enumerate(histories, start=1):
        suffix = "" if len(histories) == 1 else f"-run{index}"
        path = HISTORIES / f"{name}{suffix}.json"
        path.write_text(history.to_json())
        paths.append(path)
    SCENARIOS[name](read_runs(paths))


async def _pages_applied(harness: SyncHarness, at_least: int) -> None:
    while (
        harness.scalar("SELECT coalesce(sum(pages_applied), 0) FROM servicetitan_sync_state") or 0
    ) < at_least:
        await asyncio.sleep(0.01)


def _sandbox() -> Sandbox:
    return Sandbox(
        SandboxConfig(tenants=[TenantSpec.make(TENANT, CUSTOMERS, INVOICES)], export_page_size=PAGE)
    )


@pytest.fixture
def services(
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> Callable[[bool], AbstractAsyncContextManager[SyncHarness]]:
    """A harness on the small tenant, with an in-process worker or none."""

    def harness(run_worker: bool) -> AbstractAsyncContextManager[SyncHarness]:
        return sync_harness(
            sandbox=_sandbox(),
            database=database,
            database_url=database_url,
            client=temporal_client,
            encryption_keys=encryption_keys,
            tmp_path=tmp_path,
            run_worker=run_worker,
        )

    return harness


@pytest.fixture
async def recorder(
    services: Callable[[bool], AbstractAsyncContextManager[SyncHarness]],
) -> AsyncIterator[SyncHarness]:
    async with services(True) as harness:
        yield harness


async def test_record_full_sync(recorder: SyncHarness) -> None:
    handle = await recorder.start(await recorder.add_tenant(TENANT), mode="full")
    await handle.result()
    await _save(recorder.client, "full-sync", handle)


async def test_record_incremental_sync(recorder: SyncHarness) -> None:
    credential = await recorder.add_tenant(TENANT)
    await recorder.sync(credential, mode="full")
    recorder.sandbox.mutate(TENANT, modify=3, add=2, deactivate=1, contacts=2)
    handle = await recorder.start(credential)
    await handle.result()
    await _save(recorder.client, "incremental-sync", handle)


async def test_record_continue_as_new(recorder: SyncHarness) -> None:
    credential = await recorder.add_tenant(TENANT)
    handle = await recorder.start(
        credential, data_type="customers", pages_before_continue_as_new=3, mode="full"
    )
    await handle.result()
    await _save(recorder.client, "continue-as-new", handle)


async def test_record_api_retries(recorder: SyncHarness) -> None:
    """Two 429s on the first invoice page, then 5xx on some of the others."""
    recorder.sandbox.force_429(count=2, retry_after=1, endpoint=endpoints.EXPORT_INVOICES)
    recorder.sandbox.set_faults(error_rate=0.5, endpoints=[endpoints.EXPORT_INVOICES])
    handle = await recorder.start(await recorder.add_tenant(TENANT), data_type="invoices")
    await handle.result()
    await _save(recorder.client, "api-retries", handle)


async def test_record_staged_page_refetch(recorder: SyncHarness) -> None:
    """Staged pages dropped before their apply, as a PostgreSQL crash restart does."""
    recorder.sandbox.set_faults(latency_seconds=LATENCY)
    handle = await recorder.start(await recorder.add_tenant(TENANT), data_type="customers")
    for _ in range(2000):
        if recorder.sandbox.counters.refetched():
            break
        if recorder.scalar(
            "SELECT count(*) FROM servicetitan_staged_pages WHERE applied_at IS NULL"
        ):
            # In a thread: the worker shares this event loop (see test_sync_behaviour).
            await asyncio.to_thread(truncate_staged_pages, recorder.database_url)
        await asyncio.sleep(0.01)
    await handle.result()
    await _save(recorder.client, "staged-page-refetch", handle)


async def test_record_disabled_mid_sync(recorder: SyncHarness) -> None:
    recorder.sandbox.set_faults(latency_seconds=LATENCY)
    credential = await recorder.add_tenant(TENANT)
    handle = await recorder.start(credential, data_type="customers")
    await _pages_applied(recorder, 2)
    async with recorder.database.transaction() as connection:
        await credentials.set_sync_enabled(
            connection, credential_id=credential, enabled=False, reason="paused", actor="test"
        )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await _save(recorder.client, "disabled-mid-sync", handle)


async def test_record_failed_credentials(recorder: SyncHarness) -> None:
    handle = await recorder.start(await recorder.add_tenant(TENANT, secret="cs1.wrong"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await _save(recorder.client, "failed-credentials", handle)


async def _launch(harness: SyncHarness, credential: int) -> WorkflowHandle[Any, LaunchResult]:
    return await harness.client.start_workflow(
        ScheduledSyncWorkflow.run,
        LaunchInput(credential_id=credential, data_type="customers"),
        id=f"launch-{credential}-{harness.task_queue}",
        task_queue=harness.task_queue,
    )


async def test_record_scheduled_launcher(recorder: SyncHarness) -> None:
    launcher = await _launch(recorder, await recorder.add_tenant(TENANT))
    assert (await launcher.result()).started
    await _save(recorder.client, "scheduled-launcher", launcher)


async def test_record_scheduled_launcher_skipped(recorder: SyncHarness) -> None:
    recorder.sandbox.set_faults(latency_seconds=LATENCY)
    credential = await recorder.add_tenant(TENANT)
    sync = await recorder.start(credential)
    launcher = await _launch(recorder, credential)
    assert not (await launcher.result()).started
    await sync.result()
    await _save(recorder.client, "scheduled-launcher-skipped", launcher)


async def test_record_worker_crash(
    services: Callable[[bool], AbstractAsyncContextManager[SyncHarness]],
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> None:
    """A worker process SIGKILLed mid-sync and started again."""
    async with services(False) as harness:
        await _crash_mid_sync(harness, temporal_client, encryption_keys, tmp_path)


async def _crash_mid_sync(
    harness: SyncHarness, temporal_client: Client, encryption_keys: str, tmp_path: Path
) -> None:
    sandbox = SandboxServer(
        tenants=f"{TENANT}:{CUSTOMERS}:{INVOICES}", workdir=tmp_path, export_page_size=PAGE
    ).start()
    worker = WorkerProcess(
        worker_environment(
            database_url=harness.database_url,
            temporal_address=temporal_client.service_client.config.target_host,
            task_queue=harness.task_queue,
            sandbox_url=sandbox.url,
            encryption_keys=encryption_keys,
            data_dir=tmp_path,
        ),
        tmp_path,
    )
    with running(sandbox, worker):
        sandbox.admin("POST", "faults", {"latency_seconds": 0.2})
        credential = await harness.add_tenant(TENANT)
        worker.start()
        handle = await harness.start(credential, data_type="customers")
        await _pages_applied(harness, 2)
        worker.kill()
        worker.start()
        await handle.result()
    await _save(harness.client, "worker-crash", handle)


def test_the_recorder_covers_every_scenario() -> None:
    recorded = {
        name.removeprefix("test_record_").replace("_", "-")
        for name in globals()
        if name.startswith("test_record_")
    }
    assert recorded == set(SCENARIOS)
