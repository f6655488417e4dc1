"""Changing or deleting a credential, at the db layer (what any caller of db.credentials gets).

A new tenant or environment makes the stored cursors point into someone else's feed: they are
reset so the next sync is full. Deleting a credential removes it and its secrets, never the
history of what was imported for its company.
"""

from __future__ import annotations

import pytest

from db import credentials
from db.credentials import ConflictError
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.sync.harness import SyncHarness, stored_invoices

OLD_TENANT = 1001
NEW_TENANT = 1002


@pytest.fixture
def sandbox() -> Sandbox:
    """Two tenants of the same shape: the old tenant's cursors run past the new one's records."""
    return Sandbox(
        SandboxConfig(
            tenants=[
                TenantSpec.make(OLD_TENANT, customers=60, invoices=120),
                TenantSpec.make(NEW_TENANT, customers=60, invoices=120),
            ],
            export_page_size=50,
        )
    )


def _cursor_rows(harness: SyncHarness, credential: int) -> int:
    return int(
        harness.scalar(
            "SELECT count(*) FROM servicetitan_sync_state WHERE credential_id = %s", credential
        )
    )


def _last_audit(harness: SyncHarness, action: str) -> dict[str, object]:
    details: dict[str, object] = harness.scalar(
        "SELECT details FROM audit_log WHERE action = %s ORDER BY id DESC LIMIT 1", action
    )
    return details


async def test_a_new_tenant_resets_the_cursors_so_the_next_sync_imports_it_whole(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(OLD_TENANT)
    await harness.sync(credential)
    assert _cursor_rows(harness, credential) == 3

    new = harness.sandbox.config.tenant(NEW_TENANT)
    async with harness.database.transaction() as connection:
        change = await credentials.update_credential(
            connection,
            harness.worker_box,
            credential,
            actor="test",
            tenant_id=str(NEW_TENANT),
            client_id=new.client_id,
            client_secret=new.client_secret,
        )
    assert _cursor_rows(harness, credential) == 0
    assert change.cursors_reset is True
    assert change.changed == ["tenant_id", "client_id", "client_secret"]
    audit = _last_audit(harness, "credential.updated")
    assert audit["cursors_reset"] is True

    # An ordinary (incremental) sync now imports every record of the new tenant.
    await harness.sync(credential)
    assert stored_invoices(harness, NEW_TENANT) == harness.expected_invoices(NEW_TENANT)


async def test_a_new_environment_resets_the_cursors_and_the_token(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(OLD_TENANT)
    await harness.sync(credential)
    assert harness.scalar(
        "SELECT access_token IS NOT NULL FROM servicetitan_credentials WHERE id = %s", credential
    )

    async with harness.database.transaction() as connection:
        change = await credentials.update_credential(
            connection, harness.worker_box, credential, actor="test", environment="integration"
        )
    assert (change.changed, change.cursors_reset) == (["environment"], True)
    assert _cursor_rows(harness, credential) == 0
    assert harness.rows(
        "SELECT environment, access_token, connection_status FROM servicetitan_credentials "
        "WHERE id = %s",
        credential,
    ) == [("integration", None, "pending")]
    async with harness.database.transaction() as connection:
        info = await credentials.get_credential(connection, harness.worker_box, credential)
    assert info.environment == "integration"


async def test_same_tenant_or_new_secret_keeps_the_cursors(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(OLD_TENANT)
    await harness.sync(credential)
    spec = harness.sandbox.config.tenant(OLD_TENANT)
    async with harness.database.transaction() as connection:
        change = await credentials.update_credential(
            connection,
            harness.worker_box,
            credential,
            actor="test",
            tenant_id=str(OLD_TENANT),
            environment="production",
            client_secret=spec.client_secret,
        )
    assert change.cursors_reset is False
    assert _cursor_rows(harness, credential) == 3
    assert _last_audit(harness, "credential.updated")["cursors_reset"] is False


async def test_environment_changes_are_checked(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(OLD_TENANT)
    async with harness.database.transaction() as connection:
        company = await credentials.get_credential(connection, harness.worker_box, credential)
        await credentials.add_credential(
            connection,
            harness.worker_box,
            company_id=company.company_id,
            tenant_id=str(OLD_TENANT),
            client_id="cid.other",
            client_secret="cs1.other",
            environment="integration",
            actor="test",
        )
    async with harness.database.transaction() as connection:
        with pytest.raises(ConflictError, match=r"already has an? integration credential"):
            await credentials.update_credential(
                connection, harness.worker_box, credential, actor="test", environment="integration"
            )
        with pytest.raises(ValueError, match="environment must be one of"):
            await credentials.update_credential(
                connection, harness.worker_box, credential, actor="test", environment="staging"
            )
    assert (
        harness.scalar("SELECT environment FROM servicetitan_credentials WHERE id = %s", credential)
        == "production"
    )


async def test_deleting_a_credential_keeps_the_history_of_its_company(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(OLD_TENANT)
    harness.sandbox.inject_bad_records(OLD_TENANT, "invoices")
    await harness.sync(credential)
    company = harness.scalar(
        "SELECT company_id FROM servicetitan_credentials WHERE id = %s", credential
    )
    history = {
        table: int(harness.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608
        for table in (
            "servicetitan_sync_logs",
            "servicetitan_rejected_records",
            "servicetitan_dispatch_outbox",
            "company_data_import_jobs",
            "invoices_stream",
        )
    }
    assert all(history.values()), history

    async with harness.database.transaction() as connection:
        await credentials.delete_credential(connection, credential, actor="test")

    for table, count in history.items():
        assert harness.scalar(f"SELECT count(*) FROM {table}") == count, table  # noqa: S608
    # The credential, its secrets and its cursors are gone; its runs no longer point at it.
    assert harness.scalar("SELECT count(*) FROM servicetitan_credentials") == 0
    assert _cursor_rows(harness, credential) == 0
    assert (
        harness.scalar(
            "SELECT count(*) FROM servicetitan_sync_logs WHERE credential_id IS NOT NULL"
        )
        == 0
    )
    async with harness.database.transaction() as connection:
        assert await credentials.list_credentials(connection, harness.worker_box) == []
    # "What did we import for this company, and when" is still one join away.
    imported = harness.rows(
        "SELECT log.status, log.records_processed, log.started_at IS NOT NULL "
        "FROM servicetitan_sync_logs log "
        "JOIN company_data_import_jobs job ON job.id = log.import_job_id "
        "WHERE job.company_id = %s",
        company,
    )
    assert len(imported) == 1 and imported[0][0] == "completed" and imported[0][1] > 0
    deleted = _last_audit(harness, "credential.deleted")
    assert deleted["tenant_id"] == str(OLD_TENANT) and deleted["environment"] == "production"
    assert deleted["sync_logs_kept"] == 1

    # The company can be given a credential for the same environment again.
    spec = harness.sandbox.config.tenant(OLD_TENANT)
    async with harness.database.transaction() as connection:
        again = await credentials.add_credential(
            connection,
            harness.worker_box,
            company_id=company,
            tenant_id=str(OLD_TENANT),
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            environment="production",
            actor="test",
        )
    assert again != credential
