"""``/credentials``: onboard, read, change, test and delete ServiceTitan credentials.

Reads need any role on the credential's company; writes need ``company_admin`` (or admin).
Another company's credential answers 404, as a missing one does (``services.access``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.dependencies import Caller, Context
from api.dtos.credentials import (
    ConnectionTestResponse,
    CreateCredentialRequest,
    CredentialDeleted,
    CredentialMetadataResponse,
    CredentialResponse,
    CredentialUpdated,
    UpdateCredentialRequest,
)
from api.dtos.ids import CompanyFilter, CredentialIdPath
from api.problems import responses
from services import credentials

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.get(
    "/metadata",
    summary="Choices, limits and what the caller may do (any role)",
    response_model=CredentialMetadataResponse,
)
async def get_metadata(caller: Caller) -> CredentialMetadataResponse:
    return CredentialMetadataResponse.of(credentials.metadata(caller))


@router.post(
    "",
    summary="Onboard a credential (company_admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=CredentialResponse,
    responses=responses(403, 404, 409, 422),
)
async def create_credential(
    body: CreateCredentialRequest, caller: Caller, context: Context
) -> CredentialResponse:
    view = await credentials.create_credential(
        context,
        caller,
        company_id=body.company_id,
        tenant_id=body.tenant_id,
        client_id=body.client_id,
        client_secret=body.client_secret.get_secret_value(),
        environment=body.environment,
    )
    return CredentialResponse.of_view(view)


@router.get(
    "",
    summary="The caller's companies' credentials (any role)",
    response_model=list[CredentialResponse],
    responses=responses(404, 422),
)
async def list_credentials(
    caller: Caller,
    context: Context,
    company_id: CompanyFilter = None,
) -> list[CredentialResponse]:
    views = await credentials.list_credentials(context, caller, company_id=company_id)
    return [CredentialResponse.of_view(view) for view in views]


@router.get(
    "/{credentialId}",
    summary="One credential (any role)",
    response_model=CredentialResponse,
    responses=responses(404, 422),
)
async def get_credential(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> CredentialResponse:
    return CredentialResponse.of_view(
        await credentials.get_credential(context, caller, credential_id)
    )


@router.put(
    "/{credentialId}",
    summary="Change a credential: rotate the secret, move tenant or environment (company_admin)",
    response_model=CredentialUpdated,
    responses=responses(403, 404, 409, 422, 503),
)
async def update_credential(
    credential_id: CredentialIdPath,
    body: UpdateCredentialRequest,
    caller: Caller,
    context: Context,
) -> CredentialUpdated:
    secret = body.client_secret.get_secret_value() if body.client_secret else None
    change = await credentials.update_credential(
        context,
        caller,
        credential_id,
        tenant_id=body.tenant_id,
        environment=body.environment,
        client_id=body.client_id,
        client_secret=secret,
    )
    view = await credentials.get_credential(context, caller, credential_id)
    return CredentialUpdated(
        changed=change.changed,
        cursors_reset=change.cursors_reset,
        credential=CredentialResponse.of_view(view),
    )


@router.delete(
    "/{credentialId}",
    summary="Delete a credential, its secrets and schedule; history is kept (company_admin)",
    response_model=CredentialDeleted,
    responses=responses(403, 404, 409, 422, 503),
)
async def delete_credential(
    credential_id: CredentialIdPath,
    caller: Caller,
    context: Context,
    force: Annotated[
        bool, Query(description="Cancel a running sync of it instead of answering 409.")
    ] = False,
) -> CredentialDeleted:
    return CredentialDeleted.of(
        await credentials.delete_credential(context, caller, credential_id, force=force)
    )


@router.post(
    "/{credentialId}/test",
    summary="Request a token and make one API call; records the verdict (company_admin)",
    response_model=ConnectionTestResponse,
    responses=responses(403, 404, 422),
)
async def test_connection(
    credential_id: CredentialIdPath, caller: Caller, context: Context
) -> ConnectionTestResponse:
    return ConnectionTestResponse.of(
        await credentials.test_connection(context, caller, credential_id)
    )
