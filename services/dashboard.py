"""The dashboard: every credential of the caller's companies with connection, switch, last
sync, records, whether a sync runs and the next scheduled run.

Temporal adds the running flag and the schedules; when it is down the rows still come from
the database (``temporal_available`` False, those columns empty).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from db import reports
from db.reports import CredentialHealth
from runtime import schedules
from services.access import visible
from services.context import ServiceContext
from services.errors import Unavailable
from services.identity import Principal
from services.syncs import running_credentials


@dataclass(frozen=True)
class DashboardRow(CredentialHealth):
    running: bool
    schedule: str | None
    schedule_paused: bool | None
    next_run: datetime | None


@dataclass(frozen=True)
class Dashboard:
    rows: list[DashboardRow]
    temporal_available: bool


async def dashboard(ctx: ServiceContext, principal: Principal) -> Dashboard:
    async with ctx.database.transaction() as connection:
        health = [
            h
            for h in await reports.credential_health(connection)
            if visible(principal, h.company_id)
        ]
    try:
        client = await ctx.client()
        summaries = {s.credential_id: s for s in await schedules.list_summaries(client)}
        running = await running_credentials(ctx, [h.credential_id for h in health])
        available = True
    except Unavailable:
        summaries, running, available = {}, set(), False
    rows = []
    for h in health:
        summary = summaries.get(h.credential_id)
        next_run = (
            summary.next_runs[0] if summary and summary.next_runs and not summary.paused else None
        )
        rows.append(
            DashboardRow(
                **asdict(h),
                running=h.credential_id in running,
                schedule=summary.spec if summary else None,
                schedule_paused=summary.paused if summary else None,
                next_run=next_run,
            )
        )
    return Dashboard(rows, available)
