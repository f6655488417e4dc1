"""Every service answers within the caller's companies: another company's object is NotFound
exactly as a missing one, a reader may not write, and writes are audited as the caller."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db.database import Database
from services import audit, companies, credentials, dashboard, rejects, syncs
from services.context import ServiceContext
from services.errors import Forbidden, NotFound, ServiceError, Unavailable
from tests.services.conftest import OPERATOR, Tenants


async def _run(database: Database, credential_id: int, status: str = "completed") -> None:
    async with database.transaction() as connection:
        log = await connection.scalar(
            text(
                "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status, "
                "records_processed) VALUES (:c, 'manual', 'both', :s, 5) RETURNING id"
            ),
            {"c": credential_id, "s": status},
        )
        await connection.execute(
            text(
                "INSERT INTO servicetitan_rejected_records (credential_id, company_id, "
                "sync_log_id, stream, record_id, reason, raw) SELECT :c, company_id, :l, "
                "'invoices', '77', 'bad total', '{\"id\": 77, \"customer\": \"Jane\"}' "
                "FROM servicetitan_credentials WHERE id = :c"
            ),
            {"c": credential_id, "l": log},
        )


async def _message(call: object) -> str:
    with pytest.raises(NotFound) as refused:
        await call  # type: ignore[misc]
    return str(refused.value)


async def test_another_companys_credential_is_not_found_like_a_missing_one(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    alice, other, absent = tenants.admin_of_a(), tenants.credential_b, 987654
    for call in (
        lambda cid: credentials.get_credential(ctx, alice, cid),
        lambda cid: credentials.update_credential(ctx, alice, cid, client_secret="cs1.new-one"),
        lambda cid: credentials.delete_credential(ctx, alice, cid),
        lambda cid: credentials.test_connection(ctx, alice, cid),
        lambda cid: syncs.start_sync(ctx, alice, cid),
        lambda cid: syncs.status(ctx, alice, cid),
        lambda cid: syncs.history(ctx, alice, credential_id=cid),
    ):
        theirs, missing = await _message(call(other)), await _message(call(absent))
        assert theirs == missing.replace(str(absent), str(other))
    assert (
        await _message(
            credentials.create_credential(
                ctx,
                alice,
                company_id=tenants.company_b,
                tenant_id="3003",
                client_id="cid.x-0001",
                client_secret="cs1.x-0001",
                environment="integration",
            )
        )
        == f"no company with id {tenants.company_b}"
    )


async def test_lists_hold_only_the_callers_companies(
    ctx: ServiceContext, database: Database, tenants: Tenants
) -> None:
    await _run(database, tenants.credential_a)
    await _run(database, tenants.credential_b, "failed")
    ursula = tenants.user_of_a()
    assert [c.id for c in await credentials.list_credentials(ctx, ursula)] == [tenants.credential_a]
    assert [c.id for c in await companies.list_companies(ctx, ursula)] == [tenants.company_a]
    page = await syncs.history(ctx, ursula)
    assert page.total == 1 and [e.credential_id for e in page.items] == [tenants.credential_a]
    assert page.items[0].company_id == tenants.company_a
    assert (await syncs.history(ctx, OPERATOR, status="failed")).total == 1
    board = await dashboard.dashboard(ctx, ursula)
    assert [r.credential_id for r in board.rows] == [tenants.credential_a]
    assert board.temporal_available is False  # Temporal is down: the rows still come
    listed = await rejects.rejects(ctx, ursula)
    assert [e.credential_id for e in listed] == [tenants.credential_a]
    assert listed[0].raw is None  # a company user never gets the record's JSON
    with pytest.raises(Forbidden):
        await rejects.rejects(ctx, ursula, include_raw=True)
    full = await rejects.rejects(ctx, tenants.admin_of_a(), include_raw=True)
    assert full[0].raw is not None and "Jane" in full[0].raw
    assert len(await rejects.rejects(ctx, OPERATOR)) == 2


async def test_a_company_user_reads_but_may_not_write(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    ursula, mine = tenants.user_of_a(), tenants.credential_a
    assert (await credentials.get_credential(ctx, ursula, mine)).id == mine
    for call in (
        credentials.update_credential(ctx, ursula, mine, client_secret="cs1.new-secret"),
        credentials.delete_credential(ctx, ursula, mine),
        credentials.set_enabled(ctx, ursula, mine, enabled=False),
        syncs.start_sync(ctx, ursula, mine),
        audit.audit_log(ctx, ursula),
        companies.add_company(ctx, ursula, name="X", intacct_id="X-1", primary_trade="HVAC"),
    ):
        with pytest.raises(Forbidden):
            await call
    assert credentials.metadata(ursula).can_manage is False
    assert credentials.metadata(tenants.admin_of_a()).can_manage is True


async def test_writes_are_audited_as_the_caller_and_the_audit_is_scoped(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    alice = tenants.admin_of_a()
    change = await credentials.update_credential(
        ctx, alice, tenants.credential_a, client_secret="cs1.rotated-by-alice"
    )
    assert change.changed == ["client_secret"] and change.cursors_reset is False
    trail = await audit.audit_log(ctx, alice, action="credential.updated")
    assert [(e.actor, e.credential_id) for e in trail.items] == [
        ("token:7:alice", tenants.credential_a)
    ]
    everything = await audit.audit_log(ctx, alice)
    assert {e.company_id for e in everything.items} == {tenants.company_a}
    assert "cs1.rotated-by-alice" not in repr(everything.items)
    assert (await audit.audit_log(ctx, OPERATOR)).total > everything.total


async def test_what_needs_temporal_says_unavailable_and_reads_go_on(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    alice = tenants.admin_of_a()
    with pytest.raises(Unavailable):
        await syncs.start_sync(ctx, alice, tenants.credential_a)
    with pytest.raises(Unavailable):
        await credentials.update_credential(ctx, alice, tenants.credential_a, tenant_id="1009")
    now = await syncs.status(ctx, alice, tenants.credential_a)
    assert now.live_available is False and now.running is None
    with pytest.raises(ServiceError) as invalid:
        await syncs.history(ctx, alice, page_size=0)
    assert invalid.value.status == 422
