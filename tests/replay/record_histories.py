"""Record the workflow histories that ``test_replay.py`` replays. Not part of the suite.

Run it when the workflows changed ON PURPOSE and the change was made replay-safe (or nothing
was ever deployed with the old code):

    ./dev test tests/replay/record_histories.py

It syncs small sandbox tenants through the real worker and writes each execution's history to
``tests/replay/histories/<scenario>.json``. Commit the files with the workflow change; keep
the histories of the previous workflow code (``histories/one-page-per-activity/``) as long as
runs of it may be in flight somewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from contracts.sync import LaunchInput
from db.database import Database
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.sync.harness import SyncHarness, sync_harness
from workflows.launcher import ScheduledSyncWorkflow

HISTORIES = Path(__file__).parent / "histories"
TENANT = 3001


async def _save(harness: SyncHarness, name: str, workflow_id: str) -> None:
    query = f"WorkflowId = '{workflow_id}' AND TaskQueue = '{harness.task_queue}'"
    runs = [execution async for execution in harness.client.list_workflows(query)]
    assert runs, f"no execution of {workflow_id}"
    for index, execution in enumerate(sorted(runs, key=lambda e: e.start_time)):
        history = await harness.client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).fetch_history()
        suffix = "" if len(runs) == 1 else f"-run{index + 1}"
        (HISTORIES / f"{name}{suffix}.json").write_text(history.to_json())


@pytest.fixture
async def recorder(
    database: Database, database_url: str, temporal_client: Client, encryption_keys: str, tmp_path
):
    sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(TENANT, 60, 90)], export_page_size=40))
    async with sync_harness(
        sandbox=sandbox,
        database=database,
        database_url=database_url,
        client=temporal_client,
        encryption_keys=encryption_keys,
        tmp_path=tmp_path,
    ) as harness:
        yield harness


async def test_record_full_sync(recorder: SyncHarness) -> None:
    credential = await recorder.add_tenant(TENANT)
    handle = await recorder.start(credential)
    await handle.result()
    await _save(recorder, "full-sync", handle.id)


async def test_record_continue_as_new(recorder: SyncHarness) -> None:
    credential = await recorder.add_tenant(TENANT)
    handle = await recorder.start(credential, pages_before_continue_as_new=2, mode="full")
    await handle.result()
    await _save(recorder, "continue-as-new", handle.id)


async def test_record_failed_credentials(recorder: SyncHarness) -> None:
    credential = await recorder.add_tenant(TENANT, secret="cs1.wrong")
    handle = await recorder.start(credential)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    history = await handle.fetch_history()
    (HISTORIES / "failed-credentials.json").write_text(history.to_json())


async def test_record_scheduled_launch(recorder: SyncHarness) -> None:
    credential = await recorder.add_tenant(TENANT)
    launcher_id = f"launch-{credential}-{recorder.task_queue}"
    await recorder.client.execute_workflow(
        ScheduledSyncWorkflow.run,
        LaunchInput(credential_id=credential, data_type="customers"),
        id=launcher_id,
        task_queue=recorder.task_queue,
    )
    await _save(recorder, "scheduled-launcher", launcher_id)
