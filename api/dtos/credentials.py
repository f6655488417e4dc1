"""Credential DTOs (the seed's CreateServiceTitanCredentialDTO and
ServiceTitanCredentialResponseDTO, with the fields this product adds).

The client secret is write-only: it appears in requests, never in a response, and pydantic's
``SecretStr`` keeps it out of reprs and validation errors.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr

from api.dtos.base import CamelModel
from api.dtos.ids import Id
from db.credentials import CredentialInfo
from db.schema import ENVIRONMENTS
from services.credentials import LIMITS

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (a NUL cannot be a client id)


class CompanyDTO(CamelModel):
    id: int
    name: str
    intacct_id: str
    primary_trade: str
    sync_enabled: bool


class CredentialResponse(CamelModel):
    id: int
    tenant_id: str
    client_id: str = Field(description="Masked: enough to recognise it, not to use it.")
    environment: str
    connection_status: str
    last_sync_at: datetime | None
    last_error: str | None
    sync_enabled: bool = Field(description="The credential's own switch.")
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None
    company: CompanyDTO

    @classmethod
    def of_view(cls, view: CredentialInfo) -> CredentialResponse:
        return cls(
            id=view.id,
            tenant_id=view.tenant_id,
            client_id=view.client_id_masked,
            environment=view.environment,
            connection_status=view.connection_status,
            last_sync_at=view.last_sync_at,
            last_error=view.last_error,
            sync_enabled=view.sync_enabled,
            disabled_reason=view.disabled_reason,
            created_at=view.created_at,
            updated_at=view.updated_at,
            secret_rotated_at=view.secret_rotated_at,
            company=CompanyDTO(
                id=view.company_id,
                name=view.company_name,
                intacct_id=view.intacct_id,
                primary_trade=view.primary_trade,
                sync_enabled=view.company_sync_enabled,
            ),
        )


class CreateCredentialRequest(CamelModel):
    tenant_id: str = Field(
        min_length=1, max_length=LIMITS["tenant_id_max_length"], examples=["1002"]
    )
    client_id: str = Field(
        min_length=1, max_length=LIMITS["client_id_max_length"], pattern=PRINTABLE
    )
    client_secret: SecretStr = Field(
        min_length=1,
        max_length=LIMITS["client_secret_max_length"],
        json_schema_extra={"writeOnly": True},
    )
    environment: str = Field(json_schema_extra={"enum": list(ENVIRONMENTS)})
    company_id: Id


class UpdateCredentialRequest(CamelModel):
    """Only the fields given change. A new tenant or environment resets the sync cursors."""

    tenant_id: str | None = Field(
        default=None, min_length=1, max_length=LIMITS["tenant_id_max_length"]
    )
    client_id: str | None = Field(
        default=None, min_length=1, max_length=LIMITS["client_id_max_length"], pattern=PRINTABLE
    )
    client_secret: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=LIMITS["client_secret_max_length"],
        json_schema_extra={"writeOnly": True},
    )
    environment: str | None = Field(default=None, json_schema_extra={"enum": list(ENVIRONMENTS)})


class CredentialUpdated(CamelModel):
    changed: list[str] = Field(description="The fields that changed.")
    cursors_reset: bool = Field(description="True: the next sync is a full sync.")
    credential: CredentialResponse


class CredentialDeleted(CamelModel):
    id: int
    schedule_deleted: bool
    sync_cancelled: bool


class ConnectionTestResponse(CamelModel):
    id: int
    verdict: str
    reason: str
    token_expires_at: datetime | None
    connected: bool


class CredentialMetadataResponse(CamelModel):
    environments: list[str]
    data_types: list[str]
    sync_modes: list[str]
    limits: dict[str, int]
    role: str
    company_ids: list[int] | None = Field(description="null: every company (admin).")
    can_read: bool
    can_manage: bool
    can_manage_companies: bool
