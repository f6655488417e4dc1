"""Sync history as pages: filtered by credential, company, status and time, scoped to companies.

A run's company is its credential's or, once the credential is deleted, its import job's (the
run is kept either way), so a company's history survives a deleted credential.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.reports import SyncLogEntry
from db.schema import CompanyDataImportJob, ServiceTitanCredential, ServiceTitanSyncLog


@dataclass(frozen=True)
class HistoryEntry(SyncLogEntry):
    company_id: int | None  # None only for a run whose credential and import job are both gone


@dataclass(frozen=True)
class HistoryFilter:
    company_ids: Collection[int] | None = None  # the caller's scope; None: every company
    credential_id: int | None = None
    company_id: int | None = None
    status: str | None = None
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before


def _company() -> Any:
    return func.coalesce(ServiceTitanCredential.company_id, CompanyDataImportJob.company_id)


def _where(query: Any, chosen: HistoryFilter) -> Any:
    log, company = ServiceTitanSyncLog, _company()
    query = query.outerjoin(
        ServiceTitanCredential, ServiceTitanCredential.id == log.credential_id
    ).outerjoin(CompanyDataImportJob, CompanyDataImportJob.id == log.import_job_id)
    if chosen.company_ids is not None:
        query = query.where(company.in_(list(chosen.company_ids)))
    if chosen.credential_id is not None:
        query = query.where(log.credential_id == chosen.credential_id)
    if chosen.company_id is not None:
        query = query.where(company == chosen.company_id)
    if chosen.status is not None:
        query = query.where(log.status == chosen.status)
    if chosen.since is not None:
        query = query.where(log.started_at >= chosen.since)
    if chosen.until is not None:
        query = query.where(log.started_at < chosen.until)
    return query


async def history_page(
    connection: AsyncConnection, chosen: HistoryFilter, *, offset: int, limit: int
) -> tuple[list[HistoryEntry], int]:
    """The newest runs first, ``limit`` of them from ``offset``, and how many match in all."""
    log = ServiceTitanSyncLog
    names = [f.name for f in fields(SyncLogEntry)]
    query = _where(
        select(*(getattr(log, name) for name in names), _company().label("company_id")).select_from(
            log
        ),
        chosen,
    ).order_by(log.started_at.desc(), log.id.desc())
    rows = await connection.execute(query.offset(offset).limit(limit))
    total = await connection.scalar(_where(select(func.count()).select_from(log), chosen))
    return [HistoryEntry(**row._mapping) for row in rows], int(total or 0)


async def running_log_id(connection: AsyncConnection, credential_id: int) -> int | None:
    """The sync log of the credential's running sync, if its first activity made one."""
    log = ServiceTitanSyncLog
    return await connection.scalar(
        select(log.id).where(log.credential_id == credential_id, log.status == "running")
    )
