"""Sync DTOs: the seed's TriggerSyncRequestDTO and SyncHistoryResponseDTO, live progress,
status and schedules."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.dtos.base import CamelModel
from db.schema import DATA_TYPES


class TriggerSyncRequest(CamelModel):
    sync_type: str = Field(default="both", json_schema_extra={"enum": list(DATA_TYPES)})
    force_full_sync: bool = Field(default=False, description="Resync everything.")
    from_date: str | None = Field(
        default=None,
        alias="from",
        description="Resync records modified on or after this date (2024-01-31) or ISO time.",
        examples=["2024-01-01"],
    )


class SyncStartedResponse(CamelModel):
    credential_id: int
    workflow_id: str = Field(description="The sync's id in Temporal.")
    run_id: str | None
    workers_polling: int = Field(description="Workers polling the task queue (0: none yet).")
    status_url: str


class SyncRun(CamelModel):
    """One run of the sync log."""

    id: int
    credential_id: int | None = Field(description="null: the credential was deleted since.")
    sync_type: str
    data_type: str
    mode: str
    status: str
    records_processed: int
    records_rejected: int
    error_message: str | None
    started_at: datetime
    completed_at: datetime | None
    duration_seconds: float | None
    workflow_id: str | None


class SyncHistoryItem(SyncRun):
    company_id: int | None


class SyncHistoryPage(CamelModel):
    """One page, newest first; ``total`` counts every matching run."""

    items: list[SyncHistoryItem]
    total: int
    page: int
    page_size: int


class StreamProgressDTO(CamelModel):
    stream: str
    done: bool
    pages: int
    records: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    rate_limit_waits: int
    estimated_total: int | None


class SyncProgressDTO(CamelModel):
    sync_log_id: int | None
    status: str
    trigger: str
    mode: str
    data_type: str
    current_stream: str | None
    streams: list[StreamProgressDTO]
    runs: int = Field(description="Workflow runs so far (continue-as-new).")
    started_at: str


class ScheduleDTO(CamelModel):
    credential_id: int
    schedule_id: str
    spec: str
    paused: bool
    note: str | None
    next_runs: list[datetime]
    recent: list[str]
    interval_seconds: float | None


class SyncStatusResponse(CamelModel):
    credential_id: int
    company_id: int
    enabled: bool
    connection_status: str
    running: SyncProgressDTO | None = Field(description="Live progress of the running sync.")
    workflow_id: str | None
    last_sync: SyncRun | None
    schedule: ScheduleDTO | None
    live_available: bool = Field(
        description="false: Temporal is down, so running and schedule are unknown."
    )


class ScheduleRequest(CamelModel):
    """The seed's UpdateSyncSchedule: exactly one of ``every`` and ``cron``."""

    every: str | None = Field(
        default=None, max_length=50, examples=["1h"], description="15m, 1h, 1h30m, 1d."
    )
    cron: str | None = Field(default=None, max_length=200, examples=["0 * * * *"])
    data_type: str = Field(default="both", json_schema_extra={"enum": list(DATA_TYPES)})
    jitter: str | None = Field(
        default="1m",
        max_length=50,
        description="Random delay added to each run; 0 or null for none.",
    )


class ScheduleSetResponse(CamelModel):
    created: bool = Field(description="false: an existing schedule was replaced.")
    schedule: ScheduleDTO


class ScheduleChangedResponse(CamelModel):
    credential_id: int
    schedule_id: str
    action: str
