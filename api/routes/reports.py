"""Read-only views: the dashboard, quarantined records and field warnings, alerts, a
reconcile report and the audit log; each limited to the caller's companies by the service.

Roles: dashboard, rejects, warnings and alerts: any role (a company user gets rejects without
their raw JSON); reconcile (it calls ServiceTitan) and the audit log: company_admin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import Caller, Context
from api.dtos.ids import MAX_ID, CredentialFilter, CredentialIdPath, UtcDatetime
from api.dtos.reports import (
    AlertDTO,
    AlertsResponse,
    AuditPage,
    CredentialHealthDTO,
    DashboardResponse,
    FieldWarningDTO,
    ReconcileResponse,
    RejectDTO,
)
from api.problems import responses
from db.schema import DATA_TYPES
from services import alerts, audit, dashboard, reconcile, rejects, syncs

router = APIRouter(tags=["reports"])

StreamFilter = Annotated[str | None, Query(json_schema_extra={"enum": list(rejects.STREAMS)})]
ReasonFilter = Annotated[
    str | None, Query(max_length=200, description="Only reasons containing this text.")
]
Limit = Annotated[int, Query(ge=1, le=rejects.MAX_LIMIT)]


@router.get(
    "/dashboard",
    summary="Every credential of the caller's companies at a glance (any role)",
    response_model=DashboardResponse,
)
async def get_dashboard(caller: Caller, context: Context) -> DashboardResponse:
    return DashboardResponse.of(await dashboard.dashboard(context, caller))


@router.get(
    "/rejects",
    summary="Quarantined records, newest first (any role; raw JSON: company_admin)",
    response_model=list[RejectDTO],
    responses=responses(403, 404, 422),
)
async def list_rejects(
    caller: Caller,
    context: Context,
    credential_id: CredentialFilter = None,
    stream: StreamFilter = None,
    reason: ReasonFilter = None,
    resolution: Annotated[
        str, Query(json_schema_extra={"enum": list(rejects.RESOLUTIONS)})
    ] = "open",
    limit: Limit = 50,
    include_raw: Annotated[
        bool, Query(alias="includeRaw", description="The whole raw record (company_admin).")
    ] = False,
) -> list[RejectDTO]:
    found = await rejects.rejects(
        context,
        caller,
        credential_id=credential_id,
        stream=stream,
        reason=reason,
        resolution=resolution,  # type: ignore[arg-type]  # the service checks it
        limit=limit,
        include_raw=include_raw,
    )
    return [RejectDTO.of(entry) for entry in found]


@router.get(
    "/rejects/warnings",
    summary="Fields stored as NULL, and why, newest first (any role)",
    response_model=list[FieldWarningDTO],
    responses=responses(403, 404, 422),
)
async def list_warnings(
    caller: Caller,
    context: Context,
    credential_id: CredentialFilter = None,
    stream: StreamFilter = None,
    reason: ReasonFilter = None,
    limit: Limit = 50,
) -> list[FieldWarningDTO]:
    found = await rejects.warnings(
        context, caller, credential_id=credential_id, stream=stream, reason=reason, limit=limit
    )
    return [FieldWarningDTO.of(entry) for entry in found]


@router.get(
    "/alerts",
    summary="Stale, failing and reject-spike alerts of the caller's companies (any role)",
    response_model=AlertsResponse,
    responses=responses(503),
)
async def get_alerts(caller: Caller, context: Context) -> AlertsResponse:
    state = await alerts.alerts(context, caller)
    return AlertsResponse(
        alerts=[AlertDTO.of(alert) for alert in state.alerts],
        credentials=[CredentialHealthDTO.of(item) for item in state.health],
        stale_after_seconds={
            str(credential): threshold.total_seconds()
            for credential, threshold in state.thresholds.items()
        },
        default_stale_after_seconds=state.default_threshold.total_seconds(),
    )


@router.get(
    "/reconcile/{credentialId}",
    summary="Compare ServiceTitan with the stored rows now (company_admin)",
    response_model=ReconcileResponse,
    responses=responses(403, 404, 422, 503),
)
async def get_reconcile(
    credential_id: CredentialIdPath,
    caller: Caller,
    context: Context,
    data_type: Annotated[
        str, Query(alias="dataType", json_schema_extra={"enum": list(DATA_TYPES)})
    ] = "both",
    sample: Annotated[
        int, Query(ge=0, le=reconcile.MAX_SAMPLE, description="Records compared field by field.")
    ] = 200,
) -> ReconcileResponse:
    report = await reconcile.reconcile_credential(
        context, caller, credential_id, data_type=data_type, sample=sample
    )
    return ReconcileResponse.model_validate(report.as_dict())


@router.get(
    "/audit",
    summary="Who did what, newest first, paginated (company_admin)",
    response_model=AuditPage,
    responses=responses(403, 404, 422),
)
async def get_audit_log(
    caller: Caller,
    context: Context,
    company_id: Annotated[int | None, Query(alias="companyId", ge=1, le=MAX_ID)] = None,
    credential_id: CredentialFilter = None,
    action: Annotated[
        str | None,
        Query(
            max_length=100, description="An action (credential.created) or a prefix (credential.)."
        ),
    ] = None,
    since: Annotated[UtcDatetime | None, Query(description="At or after.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Before.")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_ID)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=syncs.MAX_PAGE_SIZE)] = 50,
) -> AuditPage:
    found = await audit.audit_log(
        context,
        caller,
        company_id=company_id,
        credential_id=credential_id,
        action=action,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return AuditPage.of(found)
