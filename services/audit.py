"""The audit log, read back: who did what, filtered and paged, limited to the caller's
companies. Company roles see their companies' rows (not company-less ones such as tokens);
company users may not read it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from db.audit_log import AuditEntry, AuditFilter, audit_page
from runtime.schedules import parse_duration
from services.access import Action, company_filter, may, require
from services.context import ServiceContext
from services.credentials import visible_credential
from services.errors import Forbidden, Invalid
from services.identity import Principal, Role
from services.pages import Page, check_page


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A moment from ``24h``/``7d`` (that long ago), a date (its midnight, UTC) or an ISO
    timestamp (UTC unless it says otherwise); ``Invalid`` otherwise."""
    cleaned = text.strip()
    try:
        return (now or datetime.now(UTC)) - parse_duration(cleaned)
    except ValueError:
        pass
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise Invalid(
            f"since must be a duration like 24h or 7d, a date like 2024-01-31 or an ISO "
            f"timestamp (got {text!r})",
            "since",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def audit_log(
    ctx: ServiceContext,
    principal: Principal,
    *,
    company_id: int | None = None,
    credential_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[AuditEntry]:
    offset = check_page(page, page_size)
    if since is not None and until is not None and since >= until:
        raise Invalid("since must be before until", "since")
    if company_id is not None:
        require(principal, Action.READ, company_id, missing=f"no company with id {company_id}")
    if credential_id is not None and principal.role is not Role.ADMIN:
        # An admin may read a deleted credential's trail; others need a credential they see.
        await visible_credential(ctx, principal, credential_id, Action.READ)
    if not may(principal, Action.MANAGE):
        raise Forbidden(f"role {principal.role} may not read the audit log")
    chosen = AuditFilter(
        company_ids=company_filter(principal),
        company_id=company_id,
        credential_id=credential_id,
        action=action,
        since=since,
        until=until,
    )
    async with ctx.database.transaction() as connection:
        items, total = await audit_page(connection, chosen, offset=offset, limit=page_size)
    return Page(items, total, page, page_size)
