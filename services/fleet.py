"""Bulk operations over many credentials: choose them by filters, sync them, schedule them.

A selection is the caller's credentials, narrowed by company, environment and staleness
(``stale``: the credentials ``starter.py alerts`` calls stale, by the same rules). Each
credential gets one ``Outcome``; a failure of one never stops the others, and at most
``concurrency`` of them are worked on at once, so a fleet sync does not flood the workers or
ServiceTitan. Each single operation is the ordinary service (``services.syncs``,
``services.schedules``), so access checks and auditing are theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from db.schema import ENVIRONMENTS
from services import alerts, schedules, syncs
from services.access import Action, require
from services.context import ServiceContext
from services.credentials import CredentialView, list_credentials
from services.errors import Invalid, ServiceError, Unavailable, checked_data_type
from services.identity import Principal
from workflows.sync import describe_failure

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 50


@dataclass(frozen=True)
class Selection:
    """Which credentials a bulk operation covers (all of the caller's by default)."""

    company_id: int | None = None
    environment: str | None = None
    stale: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one credential. ``ok`` False counts as a failure of the whole run."""

    credential_id: int
    company_id: int
    company_name: str
    tenant_id: str
    environment: str
    result: str  # sync: completed|failed|skipped; schedule: created|updated|failed
    detail: str
    ok: bool
    sync_log_id: int | None = None
    records_processed: int | None = None


Report = Callable[[Outcome], None]


def check_concurrency(concurrency: int) -> int:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise Invalid(f"concurrency must be 1 to {MAX_CONCURRENCY}", "concurrency")
    return concurrency


async def select_credentials(
    ctx: ServiceContext, principal: Principal, selection: Selection
) -> list[CredentialView]:
    """The caller's credentials that match every filter, by id (``stale`` needs Temporal)."""
    if selection.environment is not None and selection.environment not in ENVIRONMENTS:
        raise Invalid(
            f"environment must be one of {', '.join(ENVIRONMENTS)} (got {selection.environment!r})",
            "environment",
        )
    if selection.company_id is not None:
        require(
            principal,
            Action.READ,
            selection.company_id,
            missing=f"no company with id {selection.company_id}",
        )
    chosen = await list_credentials(ctx, principal, company_id=selection.company_id)
    if selection.environment is not None:
        chosen = [c for c in chosen if c.environment == selection.environment]
    if selection.stale:
        state = await alerts.alerts(ctx, principal)
        stale = {a.credential_id for a in state.alerts if a.kind == "stale"}
        chosen = [c for c in chosen if c.id in stale]
    return sorted(chosen, key=lambda c: c.id)


def _outcome(
    info: CredentialView,
    result: str,
    detail: str,
    ok: bool,
    *,
    sync_log_id: int | None = None,
    records_processed: int | None = None,
) -> Outcome:
    return Outcome(
        credential_id=info.id,
        company_id=info.company_id,
        company_name=info.company_name,
        tenant_id=info.tenant_id,
        environment=info.environment,
        result=result,
        detail=detail,
        ok=ok,
        sync_log_id=sync_log_id,
        records_processed=records_processed,
    )


async def _each(
    chosen: Sequence[CredentialView],
    work: Callable[[CredentialView], Awaitable[Outcome]],
    concurrency: int,
    report: Report | None,
) -> list[Outcome]:
    """``work`` for every credential, ``concurrency`` at a time; reported as each ends."""
    gate = asyncio.Semaphore(check_concurrency(concurrency))

    async def one(info: CredentialView) -> Outcome:
        async with gate:
            outcome = await work(info)
        if report is not None:
            report(outcome)
        return outcome

    return list(await asyncio.gather(*(one(info) for info in chosen)))


async def sync_all(
    ctx: ServiceContext,
    principal: Principal,
    selection: Selection,
    *,
    data_type: str = "both",
    force_full: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    report: Report | None = None,
) -> list[Outcome]:
    """Sync every selected credential and wait for each; a sync already running is joined.

    Disabled credentials are skipped (not a failure: not syncing is what was asked).
    """
    check_concurrency(concurrency)
    checked_data_type(data_type)
    if not ctx.settings.sync_enabled:
        raise Unavailable("syncs are switched off for every credential (SYNC_ENABLED=false)")
    chosen = await select_credentials(ctx, principal, selection)
    if chosen:
        await ctx.client()  # Temporal down: one error, not one per credential

    async def work(info: CredentialView) -> Outcome:
        if not info.sync_enabled or not info.company_sync_enabled:
            why = f" ({info.disabled_reason})" if info.disabled_reason else ""
            return _outcome(info, "skipped", f"disabled{why}", True)
        try:
            started = await syncs.start_sync(
                ctx, principal, info.id, data_type=data_type, force_full=force_full, attach=True
            )
            result = await started.handle.result()
        except WorkflowFailureError as failure:
            return _outcome(info, "failed", describe_failure(failure.cause or failure), False)
        except ServiceError as error:
            return _outcome(info, "failed", error.message, False)
        except RPCError as error:  # Temporal faltered for this one; the others go on
            return _outcome(info, "failed", f"Temporal: {error.message}", False)
        joined = "" if started.started else " (joined the sync that was running)"
        return _outcome(
            info,
            result.status,
            f"{result.records_processed} records, {result.records_rejected} rejected{joined}",
            result.status == "completed",
            sync_log_id=result.sync_log_id,
            records_processed=result.records_processed,
        )

    return await _each(chosen, work, concurrency, report)


async def schedule_all(
    ctx: ServiceContext,
    principal: Principal,
    selection: Selection,
    *,
    every: str | None = None,
    cron: str | None = None,
    data_type: str = "both",
    jitter: str | None = "1m",
    concurrency: int = DEFAULT_CONCURRENCY,
    report: Report | None = None,
) -> list[Outcome]:
    """Create or replace the schedule of every selected credential (each audited)."""
    check_concurrency(concurrency)
    schedules.check_values(every, cron, data_type)
    chosen = await select_credentials(ctx, principal, selection)
    if chosen:
        await ctx.client()

    async def work(info: CredentialView) -> Outcome:
        try:
            made = await schedules.set_schedule(
                ctx, principal, info.id, every=every, cron=cron, data_type=data_type, jitter=jitter
            )
        except ServiceError as error:
            return _outcome(info, "failed", error.message, False)
        summary = made.summary
        return _outcome(info, "created" if made.created else "updated", f"{summary.spec}", True)

    return await _each(chosen, work, concurrency, report)
