"""Dispatch: one outbox row per run that synced records, and the configured downstream
workflow started once with the run's ids (never the records)."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from db.database import Database
from sandbox.state import Sandbox
from tests.sync.conftest import TENANT
from tests.sync.downstream_workflow import DownstreamProcessing
from tests.sync.harness import sync_harness


async def test_dispatch_starts_the_downstream_workflow_once_per_run(
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> None:
    downstream_queue = f"downstream-{uuid.uuid4().hex[:8]}"
    async with (
        sync_harness(
            sandbox=sandbox,
            database=database,
            database_url=database_url,
            client=temporal_client,
            encryption_keys=encryption_keys,
            tmp_path=tmp_path,
            downstream_workflow="DownstreamProcessing",
            downstream_task_queue=downstream_queue,
        ) as harness,
        Worker(temporal_client, task_queue=downstream_queue, workflows=[DownstreamProcessing]),
    ):
        credential = await harness.add_tenant(TENANT)
        first = await harness.sync(credential)
        assert first.dispatched
        outbox = harness.rows(
            "SELECT sync_log_id, status, target_workflow_id, records_synced "
            "FROM servicetitan_dispatch_outbox"
        )
        assert len(outbox) == 1
        sync_log_id, status, target, records = outbox[0]
        assert status == "dispatched" and records == first.records_processed
        handoff = await temporal_client.get_workflow_handle(target).result()
        assert handoff == {
            "company_id": harness.scalar("SELECT company_id FROM servicetitan_credentials"),
            "credential_id": credential,
            "sync_log_id": sync_log_id,
            "records_synced": first.records_processed,
        }

        # An incremental run with nothing new processes no records: nothing is handed off.
        second = await harness.sync(credential)
        assert second.records_processed == 0 and not second.dispatched
        assert harness.scalar("SELECT count(*) FROM servicetitan_dispatch_outbox") == 1

        # A run that synced changes hands off again, under its own sync log.
        harness.sandbox.mutate(TENANT, modify=2)
        third = await harness.sync(credential)
        assert third.dispatched
        assert harness.scalar("SELECT count(*) FROM servicetitan_dispatch_outbox") == 2
