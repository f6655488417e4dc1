"""A stream's cursor and a run's progress, recorded with every applied page; the kill switches.

``servicetitan_sync_state`` holds each stream's cursor of record (``continueFrom``) and the
newest ``modifiedOn`` applied; the sync log and import job hold the run's running totals.
All move in the transaction that writes the page's rows, so they never disagree with the
rows. The same statement answers whether the sync may go on (the credential's and company's
switches), so a disabled sync stops at the next page boundary.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Numeric, Text, bindparam, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import BindParameter

from db.schema import (
    Company,
    CompanyDataImportJob,
    ServiceTitanCredential,
    ServiceTitanSyncLog,
    StagedPage,
    SyncState,
)


async def record_page_progress(
    connection: AsyncConnection,
    *,
    credential_id: int,
    sync_log_id: int,
    import_job_id: int,
    stream: str,
    continue_from: str | None,
    high_water: datetime | None,
    processed: int,
    rejected: int,
    expected_total: int | None,
    globally: bool,
) -> tuple[bool, str | None]:
    """Advance the stream's cursor and the run's totals; answer ``sync_allowed``.

    One statement: the writes are data-modifying CTEs of the ``sync_allowed`` query, so
    PostgreSQL runs each exactly once whatever the query returns.
    """
    label = stream.replace("_", " ")
    parameters = {
        "p_credential_id": credential_id,
        "p_stream": stream,
        "p_continue_from": continue_from,
        "p_high_water": high_water,
        "p_sync_log_id": sync_log_id,
        "p_import_job_id": import_job_id,
        "p_processed": processed,
        "p_rejected": rejected,
        "p_page_records": processed + rejected,
        "p_progress_suffix": f" {label} records so far",
        "p_expected_total": expected_total,
    }
    query = _page_progress_query(with_percent=bool(expected_total))
    row = (await connection.execute(query, parameters)).one_or_none()
    return _allowed(credential_id, row, globally=globally)


@functools.cache
def _page_progress_query(*, with_percent: bool) -> Select[bool, str | None, bool, str | None]:
    """``record_page_progress``'s statement, built once: every value is a bound parameter.

    The parameters are named ``p_…``: a parameter named like a column of an updated table
    would be taken for a value to SET.

    Building it per page cost more of the worker's event loop than running it (SQLAlchemy
    rebuilds the ``excluded`` alias of the whole table each time).
    """
    advanced = _advance_cursor_statement().returning(SyncState.credential_id)
    totals, job = _progress_statements(with_percent=with_percent)
    return _switches_query(bindparam("p_credential_id")).add_cte(
        advanced.cte("advanced"),
        totals.returning(ServiceTitanSyncLog.id).cte("run_totals"),
        job.returning(CompanyDataImportJob.id).cte("job_progress"),
    )


def _advance_cursor_statement() -> Any:
    """The stream's new cursor, its high-water mark (never lowered) and applied counts."""
    statement = pg_insert(SyncState).values(
        credential_id=bindparam("p_credential_id"),
        stream=bindparam("p_stream"),
        continue_from=bindparam("p_continue_from"),
        high_water_modified_on=bindparam("p_high_water"),
        pages_applied=1,
        records_applied=bindparam("p_processed"),
        last_sync_log_id=bindparam("p_sync_log_id"),
    )
    return statement.on_conflict_do_update(
        index_elements=[SyncState.credential_id, SyncState.stream],
        set_={
            "continue_from": statement.excluded.continue_from,
            "high_water_modified_on": func.greatest(
                SyncState.high_water_modified_on, statement.excluded.high_water_modified_on
            ),
            "pages_applied": SyncState.pages_applied + 1,
            "records_applied": SyncState.records_applied + statement.excluded.records_applied,
            "last_sync_log_id": statement.excluded.last_sync_log_id,
            "updated_at": func.now(),
        },
    )


def _progress_statements(*, with_percent: bool) -> tuple[Update, Update]:
    """The run's running totals, and the import job's progress text and percentage.

    The records done so far are the stream's applied pages (this one not yet marked) plus
    this page's, counted by PostgreSQL in the same statement.
    """
    log = ServiceTitanSyncLog
    sync_log_id = bindparam("p_sync_log_id", type_=Integer)
    totals = (
        update(log)
        .where(log.id == sync_log_id)
        .values(
            records_processed=log.records_processed + bindparam("p_processed", type_=Integer),
            records_rejected=log.records_rejected + bindparam("p_rejected", type_=Integer),
        )
    )
    applied_before = (
        select(func.coalesce(func.sum(StagedPage.record_count), 0))
        .where(
            StagedPage.sync_log_id == sync_log_id,
            StagedPage.stream == bindparam("p_stream", type_=Text),
            StagedPage.applied_at.is_not(None),
        )
        .scalar_subquery()
    )
    done = applied_before + bindparam("p_page_records", type_=Integer)
    values: dict[str, Any] = {
        "progress_text": literal("Synced ", Text)
        + cast(done, Text)
        + bindparam("p_progress_suffix", type_=Text),
        "updated_at": func.now(),
    }
    if with_percent:
        percent = func.round(
            cast(done, Numeric) * 100 / bindparam("p_expected_total", type_=Integer), 2
        )
        values["progress_percent"] = func.least(99, percent)
    job = (
        update(CompanyDataImportJob)
        .where(CompanyDataImportJob.id == bindparam("p_import_job_id", type_=Integer))
        .values(**values)
    )
    return totals, job


async def high_water(
    connection: AsyncConnection, credential_id: int, stream: str
) -> datetime | None:
    """The largest modifiedOn applied for a stream (for ``modifiedOnOrAfter`` estimates)."""
    value: datetime | None = await connection.scalar(
        select(SyncState.high_water_modified_on).where(
            SyncState.credential_id == credential_id, SyncState.stream == stream
        )
    )
    return value


async def sync_allowed(
    connection: AsyncConnection, credential_id: int, *, globally: bool
) -> tuple[bool, str | None]:
    """Whether the credential may keep syncing (the kill switches), and why not."""
    if not globally:
        return _allowed(credential_id, None, globally=False)
    row = (await connection.execute(_switches_query(credential_id))).one_or_none()
    return _allowed(credential_id, row, globally=globally)


def _switches_query(
    credential_id: int | BindParameter[Any],
) -> Select[bool, str | None, bool, str | None]:
    c = ServiceTitanCredential
    return (
        select(c.sync_enabled, c.disabled_reason, Company.sync_enabled, Company.disabled_reason)
        .join(Company, Company.id == c.company_id)
        .where(c.id == credential_id)
    )


def _allowed(credential_id: int, row: Any, *, globally: bool) -> tuple[bool, str | None]:
    """``sync_allowed``'s answer from the switches row (None: the credential is gone)."""
    if not globally:
        return False, "syncs are switched off for every credential (SYNC_ENABLED=false)"
    if row is None:
        return False, f"credential {credential_id} no longer exists"
    credential_on, credential_reason, company_on, company_reason = row
    if not company_on:
        return False, "its company is disabled" + (f": {company_reason}" if company_reason else "")
    if not credential_on:
        return False, "the credential is disabled" + (
            f": {credential_reason}" if credential_reason else ""
        )
    return True, None
