"""Quarantined records and field warnings, and replaying rejects that now pass.

A company role sees its companies' credentials' entries (those of a deleted credential are
the admin's). A record's raw JSON can hold customer data: only admins and company admins get
it; a company user gets every entry without it.
"""

from __future__ import annotations

from dataclasses import replace

from db import credentials
from db.quarantine import RejectListEntry, Resolution, list_rejects
from db.warnings import WarningEntry, list_warnings
from runtime.reject_replay import ReplayReport, replay_rejects
from services.access import Action, may
from services.context import ServiceContext
from services.credentials import visible_credential
from services.errors import Forbidden, Invalid
from services.identity import Principal, Role
from servicetitan.pages import ExportStream

STREAMS = tuple(stream.value for stream in ExportStream)
RESOLUTIONS: tuple[Resolution, ...] = ("open", "resolved", "all")
MAX_LIMIT = 10_000


def _check(stream: str | None, limit: int) -> None:
    if stream is not None and stream not in STREAMS:
        raise Invalid(f"stream must be one of {', '.join(STREAMS)} (got {stream!r})", "stream")
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be 1 to {MAX_LIMIT}", "limit")


async def _scope(
    ctx: ServiceContext, principal: Principal, credential_id: int | None, action: Action
) -> list[int | None]:
    """The credential filters to query with: [None] means all (admin, no credential given)."""
    if credential_id is not None:
        await visible_credential(ctx, principal, credential_id, action)
        return [credential_id]
    if principal.role is Role.ADMIN:
        return [None]
    if not may(principal, action):
        raise Forbidden(f"role {principal.role} may not {action} this")
    async with ctx.database.transaction() as connection:
        rows = await credentials.list_credentials(connection, ctx.box)
    return [row.id for row in rows if row.company_id in principal.company_ids]


async def rejects(
    ctx: ServiceContext,
    principal: Principal,
    *,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
    resolution: Resolution = "open",
    limit: int = 50,
    include_raw: bool = False,
) -> list[RejectListEntry]:
    """Newest first. ``include_raw`` (the whole raw JSON) needs admin or company admin."""
    _check(stream, limit)
    if resolution not in RESOLUTIONS:
        raise Invalid(f"resolution must be one of {', '.join(RESOLUTIONS)}", "resolution")
    if include_raw and not may(principal, Action.MANAGE):
        raise Forbidden(f"role {principal.role} may not read the raw records")
    found: list[RejectListEntry] = []
    async with ctx.database.transaction() as connection:
        for each in await _scope(ctx, principal, credential_id, Action.READ):
            found += await list_rejects(
                connection,
                credential_id=each,
                stream=stream,
                reason=reason,
                resolution=resolution,
                limit=limit,
                include_raw=include_raw,
            )
    found.sort(key=lambda e: (e.rejected_at, e.id), reverse=True)
    if not may(principal, Action.MANAGE):
        found = [replace(e, raw=None) for e in found]
    return found[:limit]


async def warnings(
    ctx: ServiceContext,
    principal: Principal,
    *,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
    limit: int = 50,
) -> list[WarningEntry]:
    """Fields stored as NULL (the record was applied), newest first."""
    _check(stream, limit)
    found: list[WarningEntry] = []
    async with ctx.database.transaction() as connection:
        for each in await _scope(ctx, principal, credential_id, Action.READ):
            found += await list_warnings(
                connection, credential_id=each, stream=stream, reason=reason, limit=limit
            )
    found.sort(key=lambda e: (e.warned_at, e.id), reverse=True)
    return found[:limit]


async def replay(
    ctx: ServiceContext,
    principal: Principal,
    *,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Map the unresolved rejects again and apply those that now pass (audited)."""
    _check(stream, 1)
    total = ReplayReport(dry_run=dry_run)
    for each in await _scope(ctx, principal, credential_id, Action.MANAGE):
        async with ctx.database.transaction() as connection:
            report = await replay_rejects(
                connection,
                actor=principal.actor,
                credential_id=each,
                stream=stream,
                reason=reason,
                dry_run=dry_run,
            )
        for name in ("examined", "landed", "still_rejected", "inserted", "updated", "unchanged"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.warnings += report.warnings
        total.resolved_ids += report.resolved_ids
    return total
