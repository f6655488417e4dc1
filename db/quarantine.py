"""Reading and resolving quarantined records (``servicetitan_rejected_records``).

``db.rejects`` writes them during a sync; this module lists them for ``starter.py rejects``
(filters, resolved ones hidden unless asked) and serves the replay
(``runtime.reject_replay``): the unresolved rejects to map again, and marking those that
landed as resolved. A resolved reject is kept, with when and by whom.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import RejectedRecord, ServiceTitanSyncLog

Resolution = Literal["open", "resolved", "all"]


@dataclass(frozen=True)
class RejectListEntry:
    id: int
    credential_id: int | None  # None: the credential was deleted, the record kept
    sync_log_id: int | None
    stream: str
    record_id: str | None
    reason: str
    rejected_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    raw: str | None


def _filtered(
    query: Any, *, credential_id: int | None, stream: str | None, reason: str | None
) -> Any:
    r = RejectedRecord
    if credential_id is not None:
        query = query.where(r.credential_id == credential_id)
    if stream is not None:
        query = query.where(r.stream == stream)
    if reason is not None:
        query = query.where(r.reason.icontains(reason, autoescape=True))
    return query


async def list_rejects(
    connection: AsyncConnection,
    *,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
    resolution: Resolution = "open",
    limit: int = 50,
    include_raw: bool = False,
) -> list[RejectListEntry]:
    """The newest rejects first; ``reason`` matches a part of the reason, case-insensitively."""
    r = RejectedRecord
    raw_column: Any = r.raw if include_raw else func.left(r.raw, 200)
    query = select(
        r.id,
        r.credential_id,
        r.sync_log_id,
        r.stream,
        r.record_id,
        r.reason,
        r.rejected_at,
        r.resolved_at,
        r.resolved_by,
        raw_column,
    ).order_by(r.rejected_at.desc(), r.id.desc())
    query = _filtered(query, credential_id=credential_id, stream=stream, reason=reason)
    if resolution == "open":
        query = query.where(r.resolved_at.is_(None))
    elif resolution == "resolved":
        query = query.where(r.resolved_at.is_not(None))
    rows = await connection.execute(query.limit(limit))
    return [RejectListEntry(*row) for row in rows]


@dataclass(frozen=True)
class ReplayCandidate:
    """An unresolved reject to map again, with the import job of the run that rejected it."""

    id: int
    credential_id: int
    stream: str
    raw: str
    import_job_id: int | None


async def replay_candidates(
    connection: AsyncConnection,
    *,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
) -> list[ReplayCandidate]:
    """Unresolved rejects of existing credentials, oldest first, locked until the commit.

    Oldest first, so that of two rejects of one record the newer is applied last (the
    upsert keeps the newer anyway). Locked so two replays cannot resolve the same reject.
    """
    r, log = RejectedRecord, ServiceTitanSyncLog
    query = (
        select(r.id, r.credential_id, r.stream, r.raw, log.import_job_id)
        .outerjoin(log, log.id == r.sync_log_id)
        .where(r.resolved_at.is_(None), r.credential_id.is_not(None))
        .order_by(r.rejected_at, r.id)
        .with_for_update(of=r)
    )
    query = _filtered(query, credential_id=credential_id, stream=stream, reason=reason)
    rows = await connection.execute(query)
    return [ReplayCandidate(*row) for row in rows]


async def mark_resolved(connection: AsyncConnection, ids: list[int], *, by: str) -> int:
    """Mark rejects resolved now, by ``by``; returns how many were still open."""
    if not ids:
        return 0
    r = RejectedRecord
    result = await connection.execute(
        update(r)
        .where(r.id.in_(ids), r.resolved_at.is_(None))
        .values(resolved_at=func.now(), resolved_by=by[:255])
    )
    return int(getattr(result, "rowcount", 0) or 0)
