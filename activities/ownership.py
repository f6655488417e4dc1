"""Refusing to touch a sync run, import job, company or staged page not the credential's own.

Activity inputs come from workflow inputs, which any Temporal client can write (a forged
``SyncInput.resume`` names any run): without these checks credential B could stage pages into
company A's run, stamp its rows with A's import job and close A's sync log. Every activity
that writes checks what it is about to write to, in the transaction that writes it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.exceptions import ApplicationError

from contracts.sync import ErrorType
from db.runs import RunOwner, run_owner
from db.staging import StagedPageRow


async def check_run(
    connection: AsyncConnection,
    credential_id: int,
    sync_log_id: int,
    *,
    import_job_id: int | None = None,
    company_id: int | None = None,
) -> RunOwner:
    """The run's owner, once it is the credential's (and the import job's and company's)."""
    owner = await run_owner(connection, sync_log_id)
    return check_owner(
        owner, credential_id, sync_log_id, import_job_id=import_job_id, company_id=company_id
    )


def check_owner(
    owner: RunOwner | None,
    credential_id: int,
    sync_log_id: int,
    *,
    import_job_id: int | None = None,
    company_id: int | None = None,
) -> RunOwner:
    """``check_run`` on an owner already read (None: the run does not exist)."""
    if (
        owner is None
        or owner.credential_id != credential_id
        or (import_job_id is not None and owner.import_job_id != import_job_id)
        or (company_id is not None and owner.company_id != company_id)
    ):
        raise _denied(
            f"sync run {sync_log_id} (or its import job or company) does not belong to "
            f"credential {credential_id}; refusing to write to it"
        )
    return owner


def check_page(page: StagedPageRow, credential_id: int, sync_log_id: int) -> None:
    """Refuse a staged page of another credential or run."""
    if page.credential_id != credential_id or page.sync_log_id != sync_log_id:
        raise _denied(
            f"staged page {page.page_id} belongs to another credential or run; "
            f"refusing to write it for credential {credential_id}"
        )


def _denied(message: str) -> ApplicationError:
    return ApplicationError(message, type=ErrorType.ACCESS_DENIED, non_retryable=True)
