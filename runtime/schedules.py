"""Recurring syncs as Temporal Schedules, one per credential.

A schedule starts ``ScheduledSyncWorkflow`` (the thin launcher that respects "one sync per
credential"), with overlap policy SKIP and optional jitter so many tenants on the same
interval do not all hit ServiceTitan in the same second. Schedules are visible and editable
in the Temporal Web UI too; these helpers are what ``starter.py schedule …`` and the demo use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from contracts import search_attributes as sa
from contracts.sync import DataType, LaunchInput
from core.settings import Settings
from workflows.launcher import ScheduledSyncWorkflow

SCHEDULE_PREFIX = "servicetitan-sync-schedule-"
_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def schedule_id_for(credential_id: int) -> str:
    return f"{SCHEDULE_PREFIX}{credential_id}"


def parse_duration(text: str) -> timedelta:
    """``1h``, ``30m``, ``1h30m``, ``2d``, ``90s`` → timedelta (a readable error otherwise)."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"not a duration: {text!r} (use e.g. 15m, 1h, 1h30m, 1d)")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class ScheduleSummary:
    credential_id: int
    schedule_id: str
    spec: str
    paused: bool
    note: str | None
    next_runs: list[datetime]
    recent: list[str]
    interval_seconds: float | None


def _build(
    settings: Settings,
    credential_id: int,
    *,
    every: timedelta | None,
    cron: str | None,
    data_type: DataType,
    jitter: timedelta | None,
    company_id: int,
    tenant_id: str,
) -> Schedule:
    if (every is None) == (cron is None):
        raise ValueError("give exactly one of --every and --cron")
    spec = ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=every)] if every is not None else [],
        cron_expressions=[cron] if cron is not None else [],
        jitter=jitter,
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ScheduledSyncWorkflow.run,
            LaunchInput(
                credential_id=credential_id,
                data_type=data_type,
                pages_before_continue_as_new=settings.sync_pages_before_continue_as_new,
            ),
            id=f"servicetitan-scheduled-{credential_id}",
            task_queue=settings.temporal_task_queue,
            typed_search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CREDENTIAL_ID, credential_id),
                    SearchAttributePair(sa.COMPANY_ID, company_id),
                    SearchAttributePair(sa.TENANT_ID, tenant_id),
                    SearchAttributePair(sa.TRIGGER, "scheduled"),
                    SearchAttributePair(sa.DATA_TYPE, data_type),
                ]
            ),
        ),
        spec=spec,
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=10)
        ),
        state=ScheduleState(note=f"ServiceTitan sync of credential {credential_id}"),
    )


async def set_schedule(
    client: Client,
    settings: Settings,
    credential_id: int,
    *,
    every: timedelta | None = None,
    cron: str | None = None,
    data_type: DataType = "both",
    jitter: timedelta | None = None,
    company_id: int,
    tenant_id: str,
) -> bool:
    """Create or replace the credential's schedule. Returns True when it was created."""
    schedule = _build(
        settings,
        credential_id,
        every=every,
        cron=cron,
        data_type=data_type,
        jitter=jitter,
        company_id=company_id,
        tenant_id=tenant_id,
    )
    handle = client.get_schedule_handle(schedule_id_for(credential_id))
    try:
        await handle.describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(schedule_id_for(credential_id), schedule)
        return True

    def replace(update: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule.state.paused = update.description.schedule.state.paused
        return ScheduleUpdate(schedule=schedule)

    await handle.update(replace)
    return False


async def find(client: Client, credential_id: int) -> ScheduleHandle | None:
    handle = client.get_schedule_handle(schedule_id_for(credential_id))
    try:
        await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return handle


async def require(client: Client, credential_id: int) -> ScheduleHandle:
    handle = await find(client, credential_id)
    if handle is None:
        raise LookupError(
            f"credential {credential_id} has no schedule (create one with `schedule set`)"
        )
    return handle


def summarize(credential_id: int, description: ScheduleDescription) -> ScheduleSummary:
    spec = description.schedule.spec
    parts = [f"every {_human(i.every)}" for i in spec.intervals]
    parts += [f"cron {c}" for c in spec.cron_expressions]
    if spec.jitter:
        parts.append(f"jitter {_human(spec.jitter)}")
    recent = [
        f"{action.started_at.isoformat(timespec='seconds')} → {action.action.workflow_id}"
        for action in description.info.recent_actions[-5:]
        if hasattr(action.action, "workflow_id")
    ]
    interval = spec.intervals[0].every.total_seconds() if spec.intervals else None
    return ScheduleSummary(
        credential_id=credential_id,
        schedule_id=description.id,
        spec=", ".join(parts) or "(calendar)",
        paused=description.schedule.state.paused,
        note=description.schedule.state.note,
        next_runs=list(description.info.next_action_times[:3]),
        recent=recent,
        interval_seconds=interval,
    )


async def list_summaries(client: Client) -> list[ScheduleSummary]:
    summaries = []
    async for listed in await client.list_schedules():
        if not listed.id.startswith(SCHEDULE_PREFIX):
            continue
        credential_id = int(listed.id.removeprefix(SCHEDULE_PREFIX))
        try:
            description = await client.get_schedule_handle(listed.id).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # deleted since the (eventually consistent) list was read
        summaries.append(summarize(credential_id, description))
    return sorted(summaries, key=lambda s: s.credential_id)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
