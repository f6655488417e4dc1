"""Quarantined records: what the sync could not map or validate, kept with the reason.

A rejected record never stops its page: the page's good records are written, the bad ones are
stored here (``servicetitan_rejected_records``) for operators to read (``rejects`` command).
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import RejectedRecord


async def store_rejects(
    connection: AsyncConnection,
    *,
    credential_id: int,
    company_id: int,
    sync_log_id: int,
    stream: str,
    rejects: list[tuple[str | None, str, str]],
) -> None:
    """Quarantine (record_id, reason, raw JSON text) tuples."""
    if not rejects:
        return
    await connection.execute(
        insert(RejectedRecord),
        [
            {
                "credential_id": credential_id,
                "company_id": company_id,
                "sync_log_id": sync_log_id,
                "stream": stream,
                "record_id": record_id,
                "reason": reason,
                "raw": raw,
            }
            for record_id, reason, raw in rejects
        ],
    )
