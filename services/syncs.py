"""Syncs: start one, read the history, see the live progress or the last result.

One sync per credential at a time (the workflow id is fixed per credential): a start while
one runs raises ``Conflict`` naming it and starts nothing, unless the caller asks to attach
(the CLI's ``sync --wait``). Reads need no Temporal; live progress does, and is left out
(``live_available`` False) when Temporal is down.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime

from temporalio.client import WorkflowHandle

from contracts.sync import Mode, SyncProgress, SyncResult
from db import audit, reports
from db.history_pages import HistoryEntry, HistoryFilter, history_page, running_log_id
from db.reports import SyncLogEntry
from db.schema import SYNC_STATUSES
from runtime import schedules, sync_control
from runtime.schedules import ScheduleSummary
from services.access import Action, company_filter, require
from services.context import ServiceContext
from services.credentials import visible_credential
from services.errors import Conflict, Invalid, Unavailable, checked_data_type
from services.identity import Principal
from services.pages import MAX_PAGE_SIZE as MAX_PAGE_SIZE  # re-exported: the API reads it here
from services.pages import Page, check_page
from workflows.sync import SyncWorkflow


@dataclass(frozen=True)
class SyncStarted:
    credential_id: int
    workflow_id: str
    run_id: str | None
    started: bool  # False: attached to the sync that was already running
    workers_polling: int  # 0: no worker polls the task queue yet (-1: unknown)
    handle: WorkflowHandle[SyncWorkflow, SyncResult] = field(repr=False, compare=False)


def parse_from_date(text: str) -> str:
    """``2024-01-31`` or an ISO timestamp, normalised; ``Invalid`` otherwise."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise Invalid(
            f"from must be a date like 2024-01-31 or an ISO timestamp (got {text!r})", "from_date"
        ) from None


async def start_sync(
    ctx: ServiceContext,
    principal: Principal,
    credential_id: int,
    *,
    data_type: str = "both",
    force_full: bool = False,
    from_date: str | None = None,
    attach: bool = False,
) -> SyncStarted:
    """Start a manual sync (audited). ``Conflict`` when one runs, unless ``attach``."""
    kind = checked_data_type(data_type)
    if force_full and from_date:
        raise Invalid("a full sync and a from date cannot be combined", "from_date")
    start_from = parse_from_date(from_date) if from_date else None
    mode: Mode = "full" if force_full else "from_date" if start_from else "incremental"
    info = await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    if not info.sync_enabled or not info.company_sync_enabled:
        raise Conflict(
            f"credential {credential_id} is disabled"
            + (f" ({info.disabled_reason})" if info.disabled_reason else "")
            + "; enable it with `credentials enable` (or `companies enable`)",
            {"credentialId": credential_id, "disabled": True},
        )
    if not ctx.settings.sync_enabled:
        raise Unavailable("syncs are switched off for every credential (SYNC_ENABLED=false)")
    client = await ctx.client()
    started = await sync_control.start_sync(
        client, ctx.settings, credential_id, data_type=kind, mode=mode, from_date=start_from
    )
    if not started.started:
        description = await started.handle.describe()
        if not attach:
            async with ctx.database.transaction() as connection:
                log_id = await running_log_id(connection, credential_id)
            raise Conflict(
                f"a sync of credential {credential_id} is already running "
                f"({started.workflow_id}); no second sync was started",
                {
                    "runningSyncId": log_id,
                    "workflowId": started.workflow_id,
                    "runId": description.run_id,
                    "credentialId": credential_id,
                },
            )
        return SyncStarted(
            credential_id, started.workflow_id, description.run_id, False, -1, started.handle
        )
    async with ctx.database.transaction() as connection:
        await audit.record(
            connection,
            "sync.requested",
            actor=principal.actor,
            company_id=info.company_id,
            credential_id=credential_id,
            details={"data_type": kind, "mode": mode, "from_date": start_from},
        )
    polling = await sync_control.workers_polling(client, ctx.settings)
    return SyncStarted(
        credential_id,
        started.workflow_id,
        started.handle.result_run_id,
        True,
        polling,
        started.handle,
    )


async def history(
    ctx: ServiceContext,
    principal: Principal,
    *,
    credential_id: int | None = None,
    company_id: int | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page[HistoryEntry]:
    """Past runs, newest first, of the caller's companies (deleted credentials' runs too)."""
    offset = check_page(page, page_size)
    if status is not None and status not in SYNC_STATUSES:
        raise Invalid(
            f"status must be one of {', '.join(SYNC_STATUSES)} (got {status!r})", "status"
        )
    if since is not None and until is not None and since >= until:
        raise Invalid("since must be before until", "since")
    if credential_id is not None:
        await visible_credential(ctx, principal, credential_id, Action.READ)
    if company_id is not None:
        require(principal, Action.READ, company_id, missing=f"no company with id {company_id}")
    chosen = HistoryFilter(
        company_ids=company_filter(principal),
        credential_id=credential_id,
        company_id=company_id,
        status=status,
        since=since,
        until=until,
    )
    async with ctx.database.transaction() as connection:
        items, total = await history_page(connection, chosen, offset=offset, limit=page_size)
    return Page(items, total, page, page_size)


@dataclass(frozen=True)
class SyncStatus:
    credential_id: int
    company_id: int
    enabled: bool
    connection_status: str
    running: SyncProgress | None
    workflow_id: str | None  # of the running sync
    last_sync: SyncLogEntry | None
    schedule: ScheduleSummary | None
    live_available: bool  # False: Temporal is down, running and schedule are unknown


async def status(ctx: ServiceContext, principal: Principal, credential_id: int) -> SyncStatus:
    """Live progress (the workflow's query) when a sync runs, and the last result."""
    info = await visible_credential(ctx, principal, credential_id, Action.READ)
    async with ctx.database.transaction() as connection:
        last = await reports.last_sync(connection, credential_id)
    live: SyncProgress | None = None
    workflow_id: str | None = None
    summary: ScheduleSummary | None = None
    try:
        client = await ctx.client()
        handle = await sync_control.running_sync(client, credential_id)
        if handle is not None:
            workflow_id = handle.id
            live = await sync_control.progress(handle)
        schedule = await schedules.find(client, credential_id)
        if schedule is not None:
            summary = schedules.summarize(credential_id, await schedule.describe())
        available = True
    except Unavailable:
        available = False
    return SyncStatus(
        credential_id=credential_id,
        company_id=info.company_id,
        enabled=info.sync_enabled and info.company_sync_enabled,
        connection_status=info.connection_status,
        running=live,
        workflow_id=workflow_id,
        last_sync=last,
        schedule=summary,
        live_available=available,
    )


async def running_credentials(ctx: ServiceContext, credential_ids: list[int]) -> set[int]:
    """Which of the credentials have a sync running now (Temporal needed)."""
    client = await ctx.client()
    found = await asyncio.gather(*(sync_control.running_sync(client, i) for i in credential_ids))
    return {i for i, handle in zip(credential_ids, found, strict=True) if handle is not None}
