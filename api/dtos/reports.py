"""Read-only views: the dashboard, quarantined records, field warnings, alerts, reconcile
reports and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from api.dtos.base import CamelModel


class CredentialHealthDTO(CamelModel):
    credential_id: int
    company_id: int
    company_name: str
    tenant_id: str
    environment: str
    connection_status: str
    enabled: bool
    created_at: datetime
    last_sync_status: str | None
    last_sync_started_at: datetime | None
    last_sync_records: int | None
    last_sync_error: str | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_sync_rejected: int | None


class DashboardRowDTO(CredentialHealthDTO):
    running: bool
    schedule: str | None
    schedule_paused: bool | None
    next_run: datetime | None


class DashboardResponse(CamelModel):
    rows: list[DashboardRowDTO]
    temporal_available: bool = Field(
        description="false: Temporal is down; running and schedule columns are empty."
    )


class RejectDTO(CamelModel):
    id: int
    credential_id: int | None
    sync_log_id: int | None
    stream: str
    record_id: str | None
    reason: str
    rejected_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    raw: str | None = Field(
        description="The record as received: null for company users; a preview unless "
        "includeRaw=true (admin, company_admin)."
    )


class FieldWarningDTO(CamelModel):
    id: int
    credential_id: int | None
    sync_log_id: int | None
    stream: str
    record_id: str
    column: str
    value: str
    reason: str
    warned_at: datetime


class AlertDTO(CamelModel):
    credential_id: int
    company_name: str
    kind: str = Field(description="stale, failing or rejects.")
    detail: str


class AlertsResponse(CamelModel):
    alerts: list[AlertDTO]
    credentials: list[CredentialHealthDTO]
    stale_after_seconds: dict[str, float] = Field(
        description="Staleness threshold per credential id (from its schedule)."
    )
    default_stale_after_seconds: float


class StreamReconcileDTO(CamelModel):
    stream: str
    in_sync: bool
    api_count_all: int | None
    api_count_active: int | None
    db_count_all: int
    db_count_active: int
    api_records_listed: int
    sums: dict[str, dict[str, str]]
    missing_in_db: list[str]
    missing_quarantined: list[str]
    missing_changed_since_sync: list[str]
    extra_in_db: list[str]
    changed_since_sync: list[str]
    sample_size: int
    sample_mismatches: list[dict[str, str]]
    quarantined_total: int
    explanations: list[str]
    unexplained: list[str]


class ReconcileResponse(CamelModel):
    credential_id: int
    tenant_id: str
    checked_at: str
    in_sync: bool
    unexplained: list[str]
    streams: list[StreamReconcileDTO]


class AuditEntryDTO(CamelModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    company_id: int | None
    credential_id: int | None
    details: dict[str, Any]


class AuditPage(CamelModel):
    items: list[AuditEntryDTO]
    total: int
    page: int
    page_size: int
