"""A stream's cursor and a run's progress, recorded with every applied page; the kill switches.

``servicetitan_sync_state`` holds each stream's cursor of record (``continueFrom``) and the
newest ``modifiedOn`` applied; the sync log and import job hold the run's running totals.
All move in the transaction that writes the page's rows, so they never disagree with the
rows. The same statement answers whether the sync may go on (the credential's and company's
switches), so a disabled sync stops at the next page boundary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, Text, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Update

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
    advanced = _advance_cursor_statement(
        credential_id=credential_id,
        stream=stream,
        continue_from=continue_from,
        high_water=high_water,
        records=processed,
        sync_log_id=sync_log_id,
    ).returning(SyncState.credential_id)
    totals, job = _progress_statements(
        sync_log_id=sync_log_id,
        import_job_id=import_job_id,
        stream=stream,
        processed=processed,
        rejected=rejected,
        expected_total=expected_total,
    )
    query = _switches_query(credential_id).add_cte(
        advanced.cte("advanced"),
        totals.returning(ServiceTitanSyncLog.id).cte("run_totals"),
        job.returning(CompanyDataImportJob.id).cte("job_progress"),
    )
    row = (await connection.execute(query)).one_or_none()
    return _allowed(credential_id, row, globally=globally)


def _advance_cursor_statement(
    *,
    credential_id: int,
    stream: str,
    continue_from: str | None,
    high_water: datetime | None,
    records: int,
    sync_log_id: int,
) -> Any:
    """The stream's new cursor, its high-water mark (never lowered) and applied counts."""
    statement = pg_insert(SyncState).values(
        credential_id=credential_id,
        stream=stream,
        continue_from=continue_from,
        high_water_modified_on=high_water,
        pages_applied=1,
        records_applied=records,
        last_sync_log_id=sync_log_id,
    )
    return statement.on_conflict_do_update(
        index_elements=[SyncState.credential_id, SyncState.stream],
        set_={
            "continue_from": statement.excluded.continue_from,
            "high_water_modified_on": func.greatest(
                SyncState.high_water_modified_on, statement.excluded.high_water_modified_on
            ),
            "pages_applied": SyncState.pages_applied + 1,
            "records_applied": SyncState.records_applied + records,
            "last_sync_log_id": sync_log_id,
            "updated_at": func.now(),
        },
    )


def _progress_statements(
    *,
    sync_log_id: int,
    import_job_id: int,
    stream: str,
    processed: int,
    rejected: int,
    expected_total: int | None,
) -> tuple[Update, Update]:
    """The run's running totals, and the import job's progress text and percentage.

    The records done so far are the stream's applied pages (this one not yet marked) plus
    this page's, counted by PostgreSQL in the same statement.
    """
    log = ServiceTitanSyncLog
    totals = (
        update(log)
        .where(log.id == sync_log_id)
        .values(
            records_processed=log.records_processed + processed,
            records_rejected=log.records_rejected + rejected,
        )
    )
    applied_before = (
        select(func.coalesce(func.sum(StagedPage.record_count), 0))
        .where(
            StagedPage.sync_log_id == sync_log_id,
            StagedPage.stream == stream,
            StagedPage.applied_at.is_not(None),
        )
        .scalar_subquery()
    )
    done = applied_before + (processed + rejected)
    label = stream.replace("_", " ")
    values: dict[str, Any] = {
        "progress_text": literal("Synced ", Text)
        + cast(done, Text)
        + literal(f" {label} records so far", Text),
        "updated_at": func.now(),
    }
    if expected_total:
        percent = func.round(cast(done, Numeric) * 100 / expected_total, 2)
        values["progress_percent"] = func.least(99, percent)
    job = (
        update(CompanyDataImportJob)
        .where(CompanyDataImportJob.id == import_job_id)
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


def _switches_query(credential_id: int) -> Select[bool, str | None, bool, str | None]:
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
