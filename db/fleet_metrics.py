"""The figures behind the fleet gauges and a few sync metrics: read-only, cheap queries.

Freshness per credential and stream (seconds since the newest applied ``modifiedOn``, and
since the last completed run that covered the stream), the outbox backlog and the staged
pages waiting. Ages are computed by PostgreSQL (``now()``), so a worker's clock does not
matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.dispatch import OUTSTANDING


@dataclass(frozen=True)
class StreamFreshness:
    credential_id: int
    stream: str
    data_age_seconds: float | None
    """None: nothing applied yet on this stream."""
    success_age_seconds: float | None
    """None: no completed run has covered this stream."""


@dataclass(frozen=True)
class Backlog:
    outbox_pending: int
    outbox_oldest_age_seconds: float
    """0 when every row is acknowledged."""
    staged_waiting: dict[str, int]
    """Per stream: staged pages not applied yet."""


@dataclass(frozen=True)
class RunOutcome:
    trigger: str
    data_type: str
    duration_seconds: float


_FRESHNESS = text(
    """
    SELECT s.credential_id, s.stream,
           EXTRACT(EPOCH FROM now() - s.high_water_modified_on)::float8,
           EXTRACT(EPOCH FROM now() - (
               SELECT max(l.completed_at) FROM servicetitan_sync_logs l
               WHERE l.credential_id = s.credential_id AND l.status = 'completed'
                 AND (l.data_type = 'both'
                      OR (l.data_type = 'invoices' AND s.stream = 'invoices')
                      OR (l.data_type = 'customers' AND s.stream <> 'invoices'))
           ))::float8
    FROM servicetitan_sync_state s
    JOIN servicetitan_credentials c ON c.id = s.credential_id
    ORDER BY s.credential_id, s.stream
    """
)

_OUTBOX = text(
    """
    SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
    FROM servicetitan_dispatch_outbox WHERE status IN :outstanding
    """
).bindparams(bindparam("outstanding", value=OUTSTANDING, expanding=True))

_STAGED = text(
    """
    SELECT stream, count(*) FROM servicetitan_staged_pages
    WHERE applied_at IS NULL GROUP BY stream
    """
)

_RUN = text(
    """
    SELECT sync_type, data_type,
           EXTRACT(EPOCH FROM COALESCE(completed_at, now()) - started_at)::float8
    FROM servicetitan_sync_logs WHERE id = :run
    """
)


async def freshness(connection: AsyncConnection) -> list[StreamFreshness]:
    """Every credential's streams that have a cursor row (synced at least once)."""
    rows = await connection.execute(_FRESHNESS)
    return [StreamFreshness(int(r[0]), str(r[1]), r[2], r[3]) for r in rows]


async def backlog(connection: AsyncConnection) -> Backlog:
    pending, oldest = (await connection.execute(_OUTBOX)).one()
    staged = {str(stream): int(n) for stream, n in await connection.execute(_STAGED)}
    return Backlog(int(pending), float(oldest), staged)


async def run_outcome(connection: AsyncConnection, sync_log_id: int) -> RunOutcome | None:
    """The run's trigger, data type and duration (None if the run is gone)."""
    row = (await connection.execute(_RUN, {"run": sync_log_id})).one_or_none()
    return None if row is None else RunOutcome(str(row[0]), str(row[1]), float(row[2]))
