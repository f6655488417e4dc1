"""Starting a sync: one per credential; a second start names the running one and starts
nothing (or attaches, for the CLI); a tenant change waits for the running sync."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from temporalio.client import Client

from core.crypto import SecretBox
from core.settings import Settings
from db.database import Database
from services import credentials, syncs
from services.context import ServiceContext
from services.errors import Conflict
from tests.services.conftest import Tenants


async def test_a_second_start_is_a_conflict_naming_the_running_sync(
    service_settings: Settings,
    database: Database,
    secret_box: SecretBox,
    temporal_client: Client,
    tenants: Tenants,
) -> None:
    async def temporal() -> Client:
        return temporal_client

    settings = service_settings.model_copy(
        update={"temporal_task_queue": f"nobody-polls-{uuid.uuid4().hex[:8]}"}
    )
    ctx = ServiceContext(settings, database, secret_box, temporal)
    alice, cid = tenants.admin_of_a(), tenants.credential_a
    first = await syncs.start_sync(ctx, alice, cid, data_type="invoices", force_full=True)
    try:
        assert first.started and first.workflow_id.endswith(str(cid)) and first.run_id
        assert first.workers_polling == 0
        with pytest.raises(Conflict) as second:
            await syncs.start_sync(ctx, alice, cid)
        assert second.value.details["workflowId"] == first.workflow_id
        assert second.value.details["runId"] == first.run_id
        assert "runningSyncId" in second.value.details
        attached = await syncs.start_sync(ctx, alice, cid, attach=True)
        assert attached.started is False and attached.workflow_id == first.workflow_id
        with pytest.raises(Conflict):
            await credentials.update_credential(ctx, alice, cid, tenant_id="1002")
        async with database.transaction() as connection:
            audited = (
                await connection.execute(
                    text("SELECT actor, details FROM audit_log WHERE action = 'sync.requested'")
                )
            ).all()
        assert [(a, d["mode"]) for a, d in audited] == [("token:7:alice", "full")]
    finally:
        await first.handle.terminate("test cleanup")
    assert (await credentials.get_credential(ctx, alice, cid)).tenant_id == "1001"
