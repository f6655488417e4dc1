"""Read-only views for operators: sync history, quarantined records, the dashboard, alerts.

Nothing here writes. The alert rules live here (not in the CLI or the metrics exporter) so
``starter.py alerts`` and the Prometheus gauges can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import Company, ServiceTitanCredential, ServiceTitanSyncLog

DEFAULT_STALE_AFTER = timedelta(hours=48)


@dataclass(frozen=True)
class SyncLogEntry:
    id: int
    credential_id: int | None  # None: the credential was deleted, its run kept
    sync_type: str
    data_type: str
    mode: str
    status: str
    records_processed: int
    records_rejected: int
    error_message: str | None
    started_at: datetime
    completed_at: datetime | None
    workflow_id: str | None
    field_warnings: int

    @property
    def duration_seconds(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


async def sync_history(
    connection: AsyncConnection, *, credential_id: int | None = None, limit: int = 20
) -> list[SyncLogEntry]:
    log = ServiceTitanSyncLog
    query = select(
        log.id,
        log.credential_id,
        log.sync_type,
        log.data_type,
        log.mode,
        log.status,
        log.records_processed,
        log.records_rejected,
        log.error_message,
        log.started_at,
        log.completed_at,
        log.workflow_id,
        log.field_warnings,
    ).order_by(log.started_at.desc(), log.id.desc())
    if credential_id is not None:
        query = query.where(log.credential_id == credential_id)
    rows = await connection.execute(query.limit(limit))
    return [SyncLogEntry(**row._mapping) for row in rows]


async def last_sync(connection: AsyncConnection, credential_id: int) -> SyncLogEntry | None:
    entries = await sync_history(connection, credential_id=credential_id, limit=1)
    return entries[0] if entries else None


@dataclass(frozen=True)
class CredentialHealth:
    """What the dashboard and the alert rules know about one credential."""

    credential_id: int
    company_id: int
    company_name: str
    tenant_id: str
    environment: str
    connection_status: str
    enabled: bool
    created_at: datetime
    last_sync_status: str | None
    last_sync_started_at: datetime | None
    last_sync_records: int | None
    last_sync_error: str | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_sync_rejected: int | None


async def credential_health(connection: AsyncConnection) -> list[CredentialHealth]:
    c, log = ServiceTitanCredential, ServiceTitanSyncLog
    last_success = (
        select(log.credential_id, func.max(log.completed_at).label("at"))
        .where(log.status == "completed")
        .group_by(log.credential_id)
        .subquery()
    )
    latest = select(
        log.credential_id,
        log.status,
        log.started_at,
        log.records_processed,
        log.error_message,
        log.records_rejected,
        func.row_number()
        .over(partition_by=log.credential_id, order_by=(log.started_at.desc(), log.id.desc()))
        .label("position"),
    ).subquery()
    failures = (
        select(log.credential_id, func.count().label("n"))
        .select_from(log)
        .outerjoin(last_success, last_success.c.credential_id == log.credential_id)
        .where(
            log.status == "failed",
            (last_success.c.at.is_(None)) | (log.started_at > last_success.c.at),
        )
        .group_by(log.credential_id)
        .subquery()
    )
    query = (
        select(
            c.id,
            c.company_id,
            Company.name,
            c.tenant_id,
            c.environment,
            c.connection_status,
            and_(c.sync_enabled, Company.sync_enabled),
            c.created_at,
            latest.c.status,
            latest.c.started_at,
            latest.c.records_processed,
            latest.c.error_message,
            last_success.c.at,
            func.coalesce(failures.c.n, 0),
            latest.c.records_rejected,
        )
        .join(Company, Company.id == c.company_id)
        .outerjoin(latest, and_(latest.c.credential_id == c.id, latest.c.position == 1))
        .outerjoin(last_success, last_success.c.credential_id == c.id)
        .outerjoin(failures, failures.c.credential_id == c.id)
        .order_by(c.id)
    )
    return [CredentialHealth(*row) for row in await connection.execute(query)]


@dataclass(frozen=True)
class Alert:
    credential_id: int
    company_name: str
    kind: str  # "stale" | "failing" | "rejects"
    detail: str


def evaluate_alerts(
    health: list[CredentialHealth],
    *,
    stale_after: dict[int, timedelta],
    default_stale_after: timedelta = DEFAULT_STALE_AFTER,
    consecutive_failures: int = 3,
    reject_spike: RejectSpike | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """The alert rules. Disabled credentials are silent: not syncing is what was asked."""
    now = now or datetime.now(UTC)
    alerts: list[Alert] = []
    for item in health:
        if not item.enabled:
            continue
        threshold = stale_after.get(item.credential_id, default_stale_after)
        reference = item.last_success_at or item.created_at
        age = now - reference
        if age > threshold:
            since = (
                f"last successful sync {_ago(age)} ago"
                if item.last_success_at
                else f"never synced successfully (added {_ago(age)} ago)"
            )
            alerts.append(
                Alert(
                    item.credential_id,
                    item.company_name,
                    "stale",
                    f"{since}; threshold {_ago(threshold)}",
                )
            )
        if item.consecutive_failures >= consecutive_failures:
            alerts.append(
                Alert(
                    item.credential_id,
                    item.company_name,
                    "failing",
                    f"{item.consecutive_failures} failed syncs in a row; last error: "
                    f"{item.last_sync_error or 'unknown'}",
                )
            )
        spike = reject_spike.describe(item) if reject_spike is not None else None
        if spike is not None:
            alerts.append(Alert(item.credential_id, item.company_name, "rejects", spike))
    return alerts


@dataclass(frozen=True)
class RejectSpike:
    """The last sync quarantined more than ``records``, or more than ``percent`` % of what it
    received: a feed that changed shape, or a rule that no longer fits (see ``rejects``)."""

    records: int
    percent: float

    def describe(self, item: CredentialHealth) -> str | None:
        rejected = item.last_sync_rejected or 0
        if not rejected or item.last_sync_status == "running":
            return None
        received = rejected + (item.last_sync_records or 0)
        share = 100 * rejected / received
        if rejected <= self.records and share <= self.percent:
            return None
        return (
            f"the last sync quarantined {rejected} of {received} records ({share:.1f}%); "
            f"threshold {self.records} records or {self.percent:g}%"
        )


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600}h"
    if seconds >= 120:
        return f"{seconds // 60}m"
    return f"{seconds}s"
