"""``/sync``: start a manual sync, read the history, watch one credential's status.

Starting needs ``company_admin``; reading needs any role on the company. A start while a
sync runs answers 409 with the running sync's ids and starts nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, status

from api.dependencies import Caller, Context
from api.dtos.ids import MAX_ID, CompanyFilter, CredentialFilter, CredentialIdPath, UtcDatetime
from api.dtos.syncs import (
    SyncHistoryPage,
    SyncStartedResponse,
    SyncStatusResponse,
    TriggerSyncRequest,
)
from api.problems import responses
from db.schema import SYNC_STATUSES
from services import syncs

router = APIRouter(prefix="/sync", tags=["syncs"])


@router.get(
    "/history",
    summary="Past runs of the caller's companies, newest first, paginated (any role)",
    response_model=SyncHistoryPage,
    responses=responses(404, 422),
)
async def history(
    caller: Caller,
    context: Context,
    credential_id: CredentialFilter = None,
    company_id: CompanyFilter = None,
    sync_status: Annotated[
        str | None, Query(alias="status", json_schema_extra={"enum": list(SYNC_STATUSES)})
    ] = None,
    since: Annotated[UtcDatetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Started before.")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_ID)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=syncs.MAX_PAGE_SIZE)] = 20,
) -> SyncHistoryPage:
    found = await syncs.history(
        context,
        caller,
        credential_id=credential_id,
        company_id=company_id,
        status=sync_status,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return SyncHistoryPage.of(found)


@router.get(
    "/status/{credentialId}",
    summary="Live progress of the running sync, or the last result (any role)",
    response_model=SyncStatusResponse,
    responses=responses(404, 422),
)
async def sync_status(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> SyncStatusResponse:
    return SyncStatusResponse.of(await syncs.status(context, caller, credential_id))


@router.post(
    "/{credentialId}",
    summary="Start a manual sync (company_admin); 409 while one runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SyncStartedResponse,
    responses=responses(403, 404, 409, 422, 503),
)
async def start_sync(
    credential_id: CredentialIdPath,
    caller: Caller,
    context: Context,
    request: Request,
    body: Annotated[TriggerSyncRequest | None, Body()] = None,
) -> SyncStartedResponse:
    chosen = body or TriggerSyncRequest()
    started = await syncs.start_sync(
        context,
        caller,
        credential_id,
        data_type=chosen.sync_type,
        force_full=chosen.force_full_sync,
        from_date=chosen.from_date,
    )
    return SyncStartedResponse(
        credential_id=started.credential_id,
        workflow_id=started.workflow_id,
        run_id=started.run_id,
        workers_polling=started.workers_polling,
        status_url=str(request.url_for("sync_status", credentialId=str(credential_id)).path),
    )
