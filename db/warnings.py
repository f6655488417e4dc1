"""Field warnings: fields stored as NULL because their values broke a rule (the record landed).

Written in the apply's transaction with the page's rows (``store_warnings``), counted in the
run's sync log (``field_warnings``), listed by ``starter.py rejects --warnings``. A warning
holds only the start of the offending value (``records.pipeline.shown_value``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import FieldWarning, ServiceTitanSyncLog
from records.pipeline import FieldWarning as RecordWarning

_MAX_VALUE = 64
_MAX_COLUMN = 100


async def store_warnings(
    connection: AsyncConnection,
    *,
    credential_id: int,
    company_id: int,
    sync_log_id: int | None,
    stream: str,
    warnings: list[RecordWarning],
) -> None:
    """Keep a page's warnings and add them to the run's count (nothing when there are none)."""
    if not warnings:
        return
    await connection.execute(
        insert(FieldWarning),
        [
            {
                "credential_id": credential_id,
                "company_id": company_id,
                "sync_log_id": sync_log_id,
                "stream": stream,
                "record_id": warning.record_id[:64],
                "column_name": warning.column[:_MAX_COLUMN],
                "value_prefix": warning.value[:_MAX_VALUE],
                "reason": warning.reason,
            }
            for warning in warnings
        ],
    )
    if sync_log_id is not None:
        log = ServiceTitanSyncLog
        await connection.execute(
            update(log)
            .where(log.id == sync_log_id)
            .values(field_warnings=log.field_warnings + len(warnings))
        )


@dataclass(frozen=True)
class WarningEntry:
    id: int
    credential_id: int | None
    sync_log_id: int | None
    stream: str
    record_id: str
    column: str
    value: str
    reason: str
    warned_at: datetime


async def list_warnings(
    connection: AsyncConnection,
    *,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
    limit: int = 50,
) -> list[WarningEntry]:
    """The newest warnings first; ``reason`` matches a part of the reason, case-insensitively."""
    w = FieldWarning
    query = select(
        w.id,
        w.credential_id,
        w.sync_log_id,
        w.stream,
        w.record_id,
        w.column_name,
        w.value_prefix,
        w.reason,
        w.warned_at,
    ).order_by(w.warned_at.desc(), w.id.desc())
    if credential_id is not None:
        query = query.where(w.credential_id == credential_id)
    if stream is not None:
        query = query.where(w.stream == stream)
    if reason is not None:
        query = query.where(w.reason.icontains(reason, autoescape=True))
    rows = await connection.execute(query.limit(limit))
    return [WarningEntry(*row) for row in rows]
