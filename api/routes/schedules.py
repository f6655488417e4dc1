"""``/sync/schedule``: a credential's recurring sync (the seed's UpdateSyncSchedule).

Changing a schedule needs ``company_admin``; listing needs any role. Schedules live in
Temporal, so every route here answers 503 while Temporal is down.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.dependencies import Caller, Context
from api.dtos.ids import CredentialIdPath
from api.dtos.syncs import (
    ScheduleChangedResponse,
    ScheduleDTO,
    ScheduleRequest,
    ScheduleSetResponse,
)
from api.problems import responses
from services import schedules

router = APIRouter(prefix="/sync", tags=["schedules"])
CHANGE_ERRORS = responses(403, 404, 422, 503)


@router.get(
    "/schedules",
    summary="The schedules of the caller's companies' credentials (any role)",
    response_model=list[ScheduleDTO],
    responses=responses(503),
)
async def list_schedules(caller: Caller, context: Context) -> list[ScheduleDTO]:
    return [ScheduleDTO.of(s) for s in await schedules.list_schedules(context, caller)]


@router.put(
    "/schedule/{credentialId}",
    summary="Create or replace the credential's schedule (company_admin)",
    response_model=ScheduleSetResponse,
    responses=CHANGE_ERRORS,
)
async def set_schedule(
    credential_id: CredentialIdPath, body: ScheduleRequest, caller: Caller, context: Context
) -> ScheduleSetResponse:
    done = await schedules.set_schedule(
        context,
        caller,
        credential_id,
        every=body.every,
        cron=body.cron,
        data_type=body.data_type,
        jitter=body.jitter,
    )
    return ScheduleSetResponse(created=done.created, schedule=ScheduleDTO.of(done.summary))


@router.delete(
    "/schedule/{credentialId}",
    summary="Delete the credential's schedule (company_admin)",
    response_model=ScheduleChangedResponse,
    responses=CHANGE_ERRORS,
)
async def delete_schedule(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> ScheduleChangedResponse:
    return ScheduleChangedResponse.of(
        await schedules.change_schedule(context, caller, credential_id, "delete")
    )


@router.post(
    "/schedule/{credentialId}/pause",
    summary="Pause the credential's schedule (company_admin)",
    response_model=ScheduleChangedResponse,
    responses=CHANGE_ERRORS,
)
async def pause_schedule(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> ScheduleChangedResponse:
    return ScheduleChangedResponse.of(
        await schedules.change_schedule(context, caller, credential_id, "pause")
    )


@router.post(
    "/schedule/{credentialId}/resume",
    summary="Resume the credential's schedule (company_admin)",
    response_model=ScheduleChangedResponse,
    responses=CHANGE_ERRORS,
)
async def resume_schedule(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> ScheduleChangedResponse:
    return ScheduleChangedResponse.of(
        await schedules.change_schedule(context, caller, credential_id, "resume")
    )


@router.post(
    "/schedule/{credentialId}/trigger",
    summary="Run the schedule's sync now; skipped while one runs (company_admin)",
    response_model=ScheduleChangedResponse,
    responses=CHANGE_ERRORS,
)
async def trigger_schedule(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> ScheduleChangedResponse:
    return ScheduleChangedResponse.of(
        await schedules.change_schedule(context, caller, credential_id, "trigger")
    )
