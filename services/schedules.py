"""Recurring syncs (Temporal Schedules, one per credential): set, pause, resume, trigger,
delete, list. Changing one needs ``MANAGE`` on the credential's company and is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from temporalio.client import ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from contracts.sync import DataType
from db import audit, credentials
from runtime import schedules
from runtime.schedules import ScheduleSummary
from services.access import Action, visible
from services.context import ServiceContext
from services.credentials import visible_credential
from services.errors import Invalid, NotFound, checked_data_type
from services.identity import Principal

ScheduleAction = Literal["pause", "resume", "trigger", "delete"]


@dataclass(frozen=True)
class ScheduleSet:
    created: bool  # False: an existing schedule was replaced (its paused state kept)
    summary: ScheduleSummary


@dataclass(frozen=True)
class ScheduleChanged:
    credential_id: int
    schedule_id: str
    action: ScheduleAction


def _duration(text: str | None, field: str) -> timedelta | None:
    if text is None or text.strip() in ("", "0"):
        return None
    try:
        return schedules.parse_duration(text)
    except ValueError as error:
        raise Invalid(str(error), field) from None


def check_values(
    every: str | None, cron: str | None, data_type: str
) -> tuple[timedelta | None, DataType]:
    """The checks that need no credential (``services.fleet`` makes them once for many):
    the interval (None with ``cron``) and the data type."""
    if (every is None) == (cron is None):
        raise Invalid("give exactly one of every and cron", "every")
    kind = checked_data_type(data_type)
    interval = _duration(every, "every") if every is not None else None
    if every is not None and interval is None:
        raise Invalid(f"not a duration: {every!r} (use e.g. 15m, 1h, 1h30m, 1d)", "every")
    return interval, kind


async def _audit(
    ctx: ServiceContext,
    principal: Principal,
    company_id: int,
    credential_id: int,
    action: str,
    details: dict[str, object],
) -> None:
    async with ctx.database.transaction() as connection:
        await audit.record(
            connection,
            f"schedule.{action}",
            actor=principal.actor,
            company_id=company_id,
            credential_id=credential_id,
            details=details,
        )


async def set_schedule(
    ctx: ServiceContext,
    principal: Principal,
    credential_id: int,
    *,
    every: str | None = None,
    cron: str | None = None,
    data_type: str = "both",
    jitter: str | None = "1m",
) -> ScheduleSet:
    """Create or replace the schedule (overlap SKIP: a run is skipped while one is going)."""
    interval, kind = check_values(every, cron, data_type)
    spread = _duration(jitter, "jitter")
    info = await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    client = await ctx.client()
    try:
        created = await schedules.set_schedule(
            client,
            ctx.settings,
            credential_id,
            every=interval,
            cron=cron,
            data_type=kind,
            jitter=spread,
            company_id=info.company_id,
            tenant_id=info.tenant_id,
        )
    except RPCError as error:
        if error.status == RPCStatusCode.INVALID_ARGUMENT:
            raise Invalid(f"Temporal refused the schedule: {error.message}", "cron") from None
        raise
    summary = schedules.summarize(
        credential_id, await (await schedules.require(client, credential_id)).describe()
    )
    await _audit(
        ctx,
        principal,
        info.company_id,
        credential_id,
        "set",
        {"spec": summary.spec, "data_type": kind, "created": created},
    )
    return ScheduleSet(created, summary)


async def change_schedule(
    ctx: ServiceContext, principal: Principal, credential_id: int, action: ScheduleAction
) -> ScheduleChanged:
    """Pause, resume, trigger (skipped if a sync runs) or delete the credential's schedule."""
    info = await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    client = await ctx.client()
    handle = await schedules.find(client, credential_id)
    if handle is None:
        raise NotFound(
            f"credential {credential_id} has no schedule (create one with `schedule set`)"
        )
    if action == "pause":
        await handle.pause(note=f"paused by {principal.actor}")
    elif action == "resume":
        await handle.unpause(note=f"resumed by {principal.actor}")
    elif action == "trigger":
        await handle.trigger(overlap=ScheduleOverlapPolicy.SKIP)
    elif action == "delete":
        await handle.delete()
    else:
        raise Invalid(f"unknown schedule action {action!r}", "action")
    await _audit(ctx, principal, info.company_id, credential_id, action, {})
    return ScheduleChanged(credential_id, handle.id, action)


async def list_schedules(ctx: ServiceContext, principal: Principal) -> list[ScheduleSummary]:
    """The schedules of the caller's companies' credentials, by credential id."""
    summaries = await schedules.list_summaries(await ctx.client())
    async with ctx.database.transaction() as connection:
        owners = {
            c.id: c.company_id for c in await credentials.list_credentials(connection, ctx.box)
        }
    return [s for s in summaries if visible(principal, owners.get(s.credential_id))]
