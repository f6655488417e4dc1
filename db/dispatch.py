"""The dispatch outbox: one hand-off row per sync run that synced records.

Downstream processing (the seed's "dispatch processing for company") either polls this table
or is started as a Temporal workflow by the ``dispatch`` activity; the unique ``sync_log_id``
makes the hand-off happen once per run however often the activity is retried. The consumer
reads the outstanding rows and acknowledges them (``outbox_page``, ``acknowledge``); an
acknowledged row keeps its place and is never handed over again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import DispatchOutbox

OUTSTANDING = ("pending", "dispatched")
"""Statuses of rows the consumer has not acknowledged yet."""


@dataclass(frozen=True)
class OutboxEntry:
    sync_log_id: int
    status: str
    target_workflow_id: str | None


async def record(
    connection: AsyncConnection,
    *,
    sync_log_id: int,
    company_id: int,
    credential_id: int,
    records_synced: int,
) -> OutboxEntry:
    await connection.execute(
        insert(DispatchOutbox)
        .values(
            sync_log_id=sync_log_id,
            company_id=company_id,
            credential_id=credential_id,
            records_synced=records_synced,
        )
        .on_conflict_do_nothing(index_elements=[DispatchOutbox.sync_log_id])
    )
    row = (
        await connection.execute(
            select(DispatchOutbox.status, DispatchOutbox.target_workflow_id).where(
                DispatchOutbox.sync_log_id == sync_log_id
            )
        )
    ).one()
    return OutboxEntry(sync_log_id, row[0], row[1])


async def mark_dispatched(
    connection: AsyncConnection, sync_log_id: int, target_workflow_id: str
) -> None:
    o = DispatchOutbox
    await connection.execute(
        update(o)
        .where(o.sync_log_id == sync_log_id)
        .values(
            # A row the consumer already acknowledged stays acknowledged.
            status=case((o.status == "acknowledged", o.status), else_="dispatched"),
            target_workflow_id=target_workflow_id,
            dispatched_at=func.now(),
        )
    )


@dataclass(frozen=True)
class OutboxRow:
    """One hand-off as the consumer sees it."""

    id: int
    sync_log_id: int
    company_id: int
    credential_id: int | None
    records_synced: int
    status: str
    target_workflow_id: str | None
    created_at: datetime
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class OutboxFilter:
    company_ids: Collection[int] | None = None  # scope; None: every company
    company_id: int | None = None
    credential_id: int | None = None
    acknowledged: bool | None = None  # None: both


def _where(query: Any, chosen: OutboxFilter) -> Any:
    o = DispatchOutbox
    if chosen.company_ids is not None:
        query = query.where(o.company_id.in_(list(chosen.company_ids)))
    if chosen.company_id is not None:
        query = query.where(o.company_id == chosen.company_id)
    if chosen.credential_id is not None:
        query = query.where(o.credential_id == chosen.credential_id)
    if chosen.acknowledged is True:
        query = query.where(o.status == "acknowledged")
    elif chosen.acknowledged is False:
        query = query.where(o.status.in_(OUTSTANDING))
    return query


def _columns() -> tuple[Any, ...]:
    o = DispatchOutbox
    return (
        o.id,
        o.sync_log_id,
        o.company_id,
        o.credential_id,
        o.records_synced,
        o.status,
        o.target_workflow_id,
        o.created_at,
        o.dispatched_at,
        o.acknowledged_at,
        o.acknowledged_by,
    )


async def outbox_page(
    connection: AsyncConnection, chosen: OutboxFilter, *, offset: int, limit: int
) -> tuple[list[OutboxRow], int]:
    """Oldest first (the order a consumer works in), and how many match in all."""
    query = _where(select(*_columns()), chosen).order_by(DispatchOutbox.id)
    rows = await connection.execute(query.offset(offset).limit(limit))
    total = await connection.scalar(
        _where(select(func.count()).select_from(DispatchOutbox), chosen)
    )
    return [OutboxRow(*row) for row in rows], int(total or 0)


async def outbox_rows(connection: AsyncConnection, ids: Collection[int]) -> list[OutboxRow]:
    """The rows with these ids that exist, locked until the transaction ends, by id."""
    query = (
        select(*_columns())
        .where(DispatchOutbox.id.in_(list(ids)))
        .order_by(DispatchOutbox.id)
        .with_for_update()
    )
    return [OutboxRow(*row) for row in await connection.execute(query)]


async def outstanding_through(
    connection: AsyncConnection, through_id: int, chosen: OutboxFilter
) -> list[int]:
    """Ids of the unacknowledged rows up to and including ``through_id`` (within ``chosen``)."""
    query = _where(
        select(DispatchOutbox.id).where(DispatchOutbox.id <= through_id),
        OutboxFilter(chosen.company_ids, chosen.company_id, chosen.credential_id, False),
    ).order_by(DispatchOutbox.id)
    return [int(i) for i in (await connection.execute(query)).scalars()]


async def acknowledge(
    connection: AsyncConnection, ids: Collection[int], *, actor: str
) -> list[int]:
    """Mark the outstanding rows among ``ids`` acknowledged; the ids that changed, by id.

    Rows acknowledged already are left as they are (an acknowledgement is idempotent).
    """
    o = DispatchOutbox
    changed = await connection.execute(
        update(o)
        .where(o.id.in_(list(ids)), o.status.in_(OUTSTANDING))
        .values(status="acknowledged", acknowledged_at=func.now(), acknowledged_by=actor)
        .returning(o.id)
    )
    return sorted(int(i) for i in changed.scalars())
