"""Sync runs: their sync log and import job, from start to finish.

A run is a ``servicetitan_sync_logs`` row and the ``company_data_import_jobs`` row the seed
shows its progress in. Both calls are safe to repeat, as a retried activity does: starting
returns the run the same workflow execution started already, and finishing a finished run
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import audit
from db.credentials import CredentialContext
from db.schema import (
    CompanyDataImportJob,
    ServiceTitanCredential,
    ServiceTitanSyncLog,
    StagedPage,
    SyncState,
)


@dataclass(frozen=True)
class StartedRun:
    sync_log_id: int
    import_job_id: int
    cursors: dict[str, str | None]
    """Where each stream starts: its stored cursor, the from-date, or None (the beginning)."""
    resumed: bool


@dataclass(frozen=True)
class RunOwner:
    """Whose a sync run is: its credential, that credential's company, its import job."""

    credential_id: int
    company_id: int
    import_job_id: int | None


async def run_owner(connection: AsyncConnection, sync_log_id: int) -> RunOwner | None:
    log = ServiceTitanSyncLog
    row = (
        await connection.execute(
            select(ServiceTitanCredential.id, ServiceTitanCredential.company_id, log.import_job_id)
            .join(ServiceTitanCredential, ServiceTitanCredential.id == log.credential_id)
            .where(log.id == sync_log_id)
        )
    ).one_or_none()
    return None if row is None else RunOwner(*row)


async def start_run(
    connection: AsyncConnection,
    credential: CredentialContext,
    *,
    streams: tuple[str, ...],
    sync_type: str,
    data_type: str,
    mode: str,
    from_date: str | None,
    workflow_id: str,
    run_id: str,
    actor: str,
) -> StartedRun:
    log = ServiceTitanSyncLog
    existing = (
        await connection.execute(
            select(log.id, log.import_job_id).where(
                log.workflow_id == workflow_id, log.run_id == run_id
            )
        )
    ).one_or_none()
    if existing is None:
        # A run left 'running' by a workflow that no longer exists (terminated, timed out)
        # would block this one forever; the fixed workflow id guarantees it is not running.
        await connection.execute(
            update(log)
            .where(log.credential_id == credential.credential_id, log.status == "running")
            .values(
                status="failed",
                completed_at=func.now(),
                error_message="interrupted: its workflow ended before finishing the run",
            )
        )
        import_job_id = await connection.scalar(
            insert(CompanyDataImportJob)
            .values(
                company_id=credential.company_id,
                status="PROCESSING",
                progress_percent=0,
                progress_text=f"ServiceTitan {data_type} sync started ({sync_type}, {mode})",
            )
            .returning(CompanyDataImportJob.id)
        )
        sync_log_id = await connection.scalar(
            insert(log)
            .values(
                credential_id=credential.credential_id,
                sync_type=sync_type,
                data_type=data_type,
                status="running",
                workflow_id=workflow_id,
                run_id=run_id,
                mode=mode,
                import_job_id=import_job_id,
            )
            .returning(log.id)
        )
        assert sync_log_id is not None and import_job_id is not None
        await audit.record(
            connection,
            "sync.started",
            actor=actor,
            company_id=credential.company_id,
            credential_id=credential.credential_id,
            details={
                "sync_log_id": sync_log_id,
                "workflow_id": workflow_id,
                "trigger": sync_type,
                "data_type": data_type,
                "mode": mode,
            },
        )
        resumed = False
    else:
        sync_log_id, import_job_id = existing
        resumed = True

    if mode == "incremental":
        rows = await connection.execute(
            select(SyncState.stream, SyncState.continue_from).where(
                SyncState.credential_id == credential.credential_id
            )
        )
        stored = {stream: cursor for stream, cursor in rows}
        cursors = {stream: stored.get(stream) for stream in streams}
    elif mode == "from_date":
        cursors = dict.fromkeys(streams, from_date)
    else:  # full resync: from the beginning, nothing deleted first
        cursors = dict.fromkeys(streams)
    assert import_job_id is not None
    return StartedRun(int(sync_log_id), int(import_job_id), cursors, resumed)


async def finish_run(
    connection: AsyncConnection,
    *,
    sync_log_id: int,
    credential_id: int,
    import_job_id: int,
    status: str,
    records_processed: int,
    records_rejected: int,
    details: dict[str, Any],
    error_message: str | None,
    credentials_rejected: bool,
    actor: str,
) -> bool:
    """Close the run and drop its staged pages. False when it was closed already (a retry)."""
    log = ServiceTitanSyncLog
    closed = await connection.execute(
        update(log)
        .where(log.id == sync_log_id, log.status == "running")
        .values(
            status=status,
            records_processed=records_processed,
            records_rejected=records_rejected,
            error_message=error_message,
            completed_at=func.now(),
            details=details,
        )
    )
    if closed.rowcount == 0:
        return False
    completed = status == "completed"
    await connection.execute(
        update(CompanyDataImportJob)
        .where(CompanyDataImportJob.id == import_job_id)
        .values(
            status="COMPLETED" if completed else "FAILED",
            done=True,
            progress_percent=100 if completed else CompanyDataImportJob.progress_percent,
            progress_text=(
                f"Processed {records_processed} records in total"
                if completed
                else f"Failed: {error_message}"
            ),
            updated_at=func.now(),
        )
    )
    c = ServiceTitanCredential
    credential_values: dict[str, Any] = {"updated_at": func.now()}
    if completed:
        credential_values.update(
            last_sync_at=func.now(), connection_status="connected", last_error=None
        )
    elif credentials_rejected:
        credential_values.update(connection_status="error", last_error=error_message)
    await connection.execute(update(c).where(c.id == credential_id).values(**credential_values))
    await connection.execute(delete(StagedPage).where(StagedPage.sync_log_id == sync_log_id))
    company_id = await connection.scalar(select(c.company_id).where(c.id == credential_id))
    await audit.record(
        connection,
        f"sync.{status}",
        actor=actor,
        company_id=company_id,
        credential_id=credential_id,
        details={
            "sync_log_id": sync_log_id,
            "records_processed": records_processed,
            "records_rejected": records_rejected,
            "error": error_message,
        },
    )
    return True
