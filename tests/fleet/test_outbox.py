"""The outbox for its consumer: pending rows oldest first, acknowledged by id or through an
id, idempotently, all or nothing, only within the caller's companies, and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import dispatch
from db.database import Database
from services import outbox
from services.context import ServiceContext
from services.errors import Invalid, NotFound
from tests.services.conftest import OPERATOR, Tenants


async def _handoff(database: Database, credential_id: int, records: int = 10) -> int:
    """A completed run of the credential and its outbox row; the row's id."""
    async with database.transaction() as connection:
        company_id = await connection.scalar(
            text("SELECT company_id FROM servicetitan_credentials WHERE id = :c"),
            {"c": credential_id},
        )
        log_id = await connection.scalar(
            text(
                "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status,"
                " records_processed, completed_at) VALUES (:c, 'manual', 'both', 'completed',"
                " :n, now()) RETURNING id"
            ),
            {"c": credential_id, "n": records},
        )
        entry = await dispatch.record(
            connection,
            sync_log_id=int(log_id),
            company_id=int(company_id),
            credential_id=credential_id,
            records_synced=records,
        )
        row_id = await connection.scalar(
            text("SELECT id FROM servicetitan_dispatch_outbox WHERE sync_log_id = :l"),
            {"l": entry.sync_log_id},
        )
    return int(row_id)


async def test_pending_rows_are_listed_oldest_first_and_leave_once_acknowledged(
    ctx: ServiceContext, database: Database, tenants: Tenants
) -> None:
    first = await _handoff(database, tenants.credential_a, 5)
    second = await _handoff(database, tenants.credential_b, 7)
    third = await _handoff(database, tenants.credential_a, 9)
    pending = await outbox.list_outbox(ctx, OPERATOR)
    assert [r.id for r in pending.items] == [first, second, third] and pending.total == 3
    assert [r.records_synced for r in pending.items] == [5, 7, 9]
    assert {r.status for r in pending.items} == {"pending"}

    done = await outbox.acknowledge(ctx, OPERATOR, [second])
    assert done.acknowledged == [second] and done.already == []
    again = await outbox.acknowledge(ctx, OPERATOR, [second])  # idempotent
    assert again.acknowledged == [] and again.already == [second]

    assert [r.id for r in (await outbox.list_outbox(ctx, OPERATOR)).items] == [first, third]
    acked = (await outbox.list_outbox(ctx, OPERATOR, status="acknowledged")).items
    assert [(r.id, r.status, r.acknowledged_by) for r in acked] == [
        (second, "acknowledged", OPERATOR.actor)
    ]
    assert acked[0].acknowledged_at is not None
    only_a = await outbox.list_outbox(ctx, OPERATOR, company_id=tenants.company_a, status="all")
    assert [r.id for r in only_a.items] == [first, third]

    async with database.transaction() as connection:
        audited = (
            await connection.execute(
                text("SELECT company_id, details FROM audit_log WHERE action = :a"),
                {"a": "outbox.acknowledged"},
            )
        ).all()
    assert audited == [
        (tenants.company_b, {"outbox_ids": [second], "sync_log_ids": [acked[0].sync_log_id]})
    ]


async def test_through_acknowledges_every_pending_row_up_to_an_id(
    ctx: ServiceContext, database: Database, tenants: Tenants
) -> None:
    ids = [await _handoff(database, tenants.credential_a) for _ in range(3)]
    other = await _handoff(database, tenants.credential_b)
    later = await _handoff(database, tenants.credential_a)
    done = await outbox.acknowledge(ctx, OPERATOR, through=other, company_id=tenants.company_a)
    assert done.acknowledged == ids  # company B's row and the later one stay pending
    left = await outbox.list_outbox(ctx, OPERATOR)
    assert [r.id for r in left.items] == [other, later]


async def test_an_unknown_or_foreign_id_acknowledges_nothing(
    ctx: ServiceContext, database: Database, tenants: Tenants
) -> None:
    mine = await _handoff(database, tenants.credential_a)
    theirs = await _handoff(database, tenants.credential_b)
    with pytest.raises(NotFound, match=f"no outbox row with id {mine + 100}"):
        await outbox.acknowledge(ctx, OPERATOR, [mine, mine + 100])
    alice = tenants.admin_of_a()
    with pytest.raises(NotFound, match=f"no outbox row with id {theirs}"):
        await outbox.acknowledge(ctx, alice, [mine, theirs])
    assert [r.id for r in (await outbox.list_outbox(ctx, alice)).items] == [mine]
    assert (await outbox.list_outbox(ctx, OPERATOR)).total == 2  # nothing was acknowledged
    with pytest.raises(Invalid):
        await outbox.acknowledge(ctx, alice, [])
    with pytest.raises(Invalid):
        await outbox.list_outbox(ctx, alice, status="dispatched-ish")


async def test_a_late_dispatch_mark_keeps_an_acknowledged_row_acknowledged(
    ctx: ServiceContext, database: Database, tenants: Tenants
) -> None:
    row = await _handoff(database, tenants.credential_a)
    await outbox.acknowledge(ctx, OPERATOR, [row])
    (item,) = (await outbox.list_outbox(ctx, OPERATOR, status="all")).items
    async with database.transaction() as connection:
        await dispatch.mark_dispatched(connection, item.sync_log_id, "downstream-1-x")
    (after,) = (await outbox.list_outbox(ctx, OPERATOR, status="all")).items
    assert after.status == "acknowledged" and after.target_workflow_id == "downstream-1-x"
