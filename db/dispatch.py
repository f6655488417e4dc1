"""The dispatch outbox: one hand-off row per sync run that synced records.

Downstream processing (the seed's "dispatch processing for company") either polls this table
or is started as a Temporal workflow by the ``dispatch`` activity; the unique ``sync_log_id``
makes the hand-off happen once per run however often the activity is retried.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import DispatchOutbox


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
    await connection.execute(
        update(DispatchOutbox)
        .where(DispatchOutbox.sync_log_id == sync_log_id)
        .values(
            status="dispatched", target_workflow_id=target_workflow_id, dispatched_at=func.now()
        )
    )
