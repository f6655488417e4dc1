"""Reading the audit trail (``db.audit`` writes it): filtered, paged, limited to companies."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import AuditLog


@dataclass(frozen=True)
class AuditEntry:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    company_id: int | None
    credential_id: int | None
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditFilter:
    company_ids: Collection[int] | None = None  # scope; None: every row, company-less ones too
    company_id: int | None = None
    credential_id: int | None = None
    action: str | None = None  # exact, or a prefix ending in "." (e.g. "credential.")
    since: datetime | None = None
    until: datetime | None = None


def _where(query: Any, chosen: AuditFilter) -> Any:
    a = AuditLog
    if chosen.company_ids is not None:
        query = query.where(a.company_id.in_(list(chosen.company_ids)))
    if chosen.company_id is not None:
        query = query.where(a.company_id == chosen.company_id)
    if chosen.credential_id is not None:
        query = query.where(a.credential_id == chosen.credential_id)
    if chosen.action is not None:
        if chosen.action.endswith("."):
            query = query.where(a.action.startswith(chosen.action, autoescape=True))
        else:
            query = query.where(a.action == chosen.action)
    if chosen.since is not None:
        query = query.where(a.occurred_at >= chosen.since)
    if chosen.until is not None:
        query = query.where(a.occurred_at < chosen.until)
    return query


async def audit_page(
    connection: AsyncConnection, chosen: AuditFilter, *, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """The newest entries first, and how many match in all."""
    a = AuditLog
    query = _where(
        select(a.id, a.occurred_at, a.actor, a.action, a.company_id, a.credential_id, a.details),
        chosen,
    ).order_by(a.occurred_at.desc(), a.id.desc())
    rows = await connection.execute(query.offset(offset).limit(limit))
    total = await connection.scalar(_where(select(func.count()).select_from(a), chosen))
    return [AuditEntry(*row) for row in rows], int(total or 0)
