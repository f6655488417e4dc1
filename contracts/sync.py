"""What crosses the workflow/activity boundary: ids, cursors and counts — never data or secrets.

Everything here is written into Temporal's history, so it must stay small (no records: pages
are staged in PostgreSQL and referred to by id) and must never hold a secret (tokens stay in
the database, encrypted). A test scans a finished workflow's history to prove it.

This module is imported by the workflow sandbox, so it imports nothing but the standard
library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DataType = Literal["invoices", "customers", "both"]
Trigger = Literal["manual", "scheduled"]
Mode = Literal["incremental", "full", "from_date"]
Stream = Literal["customers", "customer_contacts", "invoices"]
RunStatus = Literal["running", "completed", "failed"]

STREAMS_FOR: dict[str, tuple[Stream, ...]] = {
    "customers": ("customer_contacts", "customers"),
    "invoices": ("invoices",),
    "both": ("customer_contacts", "customers", "invoices"),
}
"""The streams of a run, in the order they are synced.

Contacts before customers: a member's primary phone and email come from its contacts, and
whichever arrives second fills them in (``db.record_writer``). Written first, contacts find
no members to update on a first sync, and each member is written once, phone and email
included; the other way round every member row was written twice. Invoices last: their
customers' types (``customers``) decide how names are split.
"""


class ActivityName:
    """Activity names, so the workflow needs no import of the activity code."""

    START_RUN = "start_run"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - an activity name, not a secret
    FETCH_PAGES = "fetch_pages"
    FETCH_FIRST_PAGES = "fetch_first_pages"
    MAP_AND_INSERT_PAGES = "map_and_insert_pages"
    DISPATCH = "dispatch"
    FINISH_RUN = "finish_run"


class ErrorType:
    """``ApplicationError.type`` values the workflow and retry policies act on."""

    CREDENTIALS_REJECTED = "CredentialsRejected"
    RATE_LIMITED = "RateLimited"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    BAD_REQUEST = "BadRequest"
    NOT_FOUND = "NotFound"
    STAGED_PAGE_MISSING = "StagedPageMissing"
    SYNC_DISABLED = "SyncDisabled"
    CONFIGURATION = "ConfigurationError"
    DECRYPTION = "DecryptionError"
    STUCK_CURSOR = "StuckCursor"
    INVALID_RESPONSE = "InvalidResponse"
    ACCESS_DENIED = "AccessDenied"


# Errors no retry can fix: the workflow fails the run at once with a readable message.
NON_RETRYABLE_ERRORS = [
    ErrorType.CREDENTIALS_REJECTED,
    ErrorType.BAD_REQUEST,
    ErrorType.NOT_FOUND,
    ErrorType.STAGED_PAGE_MISSING,
    ErrorType.SYNC_DISABLED,
    ErrorType.CONFIGURATION,
    ErrorType.DECRYPTION,
    ErrorType.STUCK_CURSOR,
    ErrorType.ACCESS_DENIED,
]


@dataclass
class SyncInput:
    """The workflow's only argument. ``resume`` is set by continue-as-new, never by callers."""

    credential_id: int
    data_type: DataType = "both"
    trigger: Trigger = "manual"
    mode: Mode = "incremental"
    from_date: str | None = None
    pages_before_continue_as_new: int | None = None
    resume: SyncResume | None = None


@dataclass
class StreamProgress:
    """Per-stream counters, shown by the progress query and the CLI's progress bars."""

    stream: Stream
    cursor: str | None = None
    done: bool = False
    pages: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rate_limit_waits: int = 0
    estimated_total: int | None = None


@dataclass
class SyncResume:
    """What a continued-as-new run carries: ids, positions, counters."""

    sync_log_id: int
    import_job_id: int
    company_id: int
    tenant_id: str
    streams: list[StreamProgress]
    runs: int = 1
    started_at: str = ""
    pending_pages: list[PageRef] = field(default_factory=list)
    """Pages fetched (staged) by the run that continued-as-new, applied first by this one."""


@dataclass
class StartRunInput:
    credential_id: int
    data_type: DataType
    trigger: Trigger
    mode: Mode
    from_date: str | None
    workflow_id: str
    run_id: str


@dataclass
class RunContext:
    sync_log_id: int
    import_job_id: int
    company_id: int
    tenant_id: str
    streams: list[StreamProgress]
    token_refresh_after: str | None = None
    """When the token cached for the credential is due (ISO); None when none is cached or
    it is due already (then the workflow refreshes it before the first fetch)."""


@dataclass
class RefreshTokenInput:
    credential_id: int
    force: bool = False


@dataclass
class TokenStatus:
    """When the cached token expires and when to refresh it (ISO 8601, UTC).

    The token itself never leaves the database.
    """

    expires_at: str
    refresh_after: str
    refreshed: bool


@dataclass
class FetchPageInput:
    credential_id: int
    sync_log_id: int
    stream: Stream
    cursor: str | None
    estimate_total: bool = False
    max_pages: int = 1
    """``fetch_pages`` follows ``continueFrom`` for up to this many pages."""
    prepare: bool = True
    """Start mapping each page as it is staged (false while the data its mapping reads, the
    customers of an invoice page, is still being written by another stream)."""
    apply_empty: bool = False
    """Apply the first page right away if it has no records (no earlier page of the stream
    is waiting): only its cursor and the run's progress are written. An idle stream then
    costs one activity instead of two."""
    expected_total: int | None = None
    """The stream's count estimate, for the progress an applied empty page records."""


PAGES_IN_FLIGHT = 2 * 3
"""Export pages a crash can make the sync fetch again: two per stream, and the three streams
are fetched at once. ``fetch_pages`` downloads the next page while it stores the current one,
and neither is on record until it is stored."""


@dataclass
class PageRef:
    """A staged page: where it is, what it covers. No records."""

    page_id: int
    stream: Stream
    cursor_in: str | None
    cursor_out: str | None
    has_more: bool
    record_count: int
    rate_limit_waits: int = 0
    estimated_total: int | None = None


@dataclass
class ApplyResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    superseded: int = 0
    already_applied: bool = False
    sync_enabled: bool = True
    disabled_reason: str | None = None


@dataclass
class PageBatch:
    """Consecutive staged pages of one stream, in order (``fetch_pages``)."""

    pages: list[PageRef]
    first_applied: ApplyResult | None = None
    """Set when the fetch applied the first page itself (``FetchPageInput.apply_empty``)."""
    worker_queue: str | None = None
    """The task queue of the worker that fetched (and holds) the pages, if it has one: the
    stream's next fetch and its apply are sent there, so that worker's mapping is used."""


@dataclass
class FirstPage:
    """One stream's part of ``fetch_first_pages``: its first fetch, and the stream whose
    completion its apply waits for (``None``: it may be applied at once)."""

    fetch: FetchPageInput
    applied_after: Stream | None = None


@dataclass
class FirstPagesInput:
    """The first page of every stream of an incremental sync, fetched in one activity."""

    import_job_id: int
    streams: list[FirstPage]


@dataclass
class FirstPagesResult:
    """Per stream, in the input's order: its first page staged (and, when it was the whole
    feed and the stream it waits for was complete, applied: ``first_applied``), or ``None``
    when ServiceTitan did not answer it; the stream's own ``fetch_pages`` then asks again."""

    batches: list[PageBatch | None]


@dataclass
class ApplyPagesInput:
    credential_id: int
    sync_log_id: int
    import_job_id: int
    pages: list[PageRef]
    expected_total: int | None = None
    following: list[PageRef] = field(default_factory=list)
    """The stream's next staged pages, whose mapping this apply may start meanwhile."""


@dataclass
class ApplyPagesResult:
    """One result per applied page, in order, for a prefix of the batch.

    Shorter than the batch when applying stopped: the last result says the sync was disabled,
    or ``missing`` says the next page's staged body is gone (PostgreSQL restarted after a
    crash) and must be fetched again from its ``cursor_in``.
    """

    results: list[ApplyResult]
    missing: bool = False
    worker_queue: str | None = None
    """The task queue of the worker that ran the apply (it holds the stream's mapping now);
    the stream's next activities go there."""


@dataclass
class DispatchInput:
    sync_log_id: int
    credential_id: int
    company_id: int
    records_synced: int


@dataclass
class DispatchResult:
    dispatched: bool
    target_workflow_id: str | None = None
    detail: str = ""


@dataclass
class FinishRunInput:
    sync_log_id: int
    credential_id: int
    import_job_id: int
    status: RunStatus
    records_processed: int
    records_rejected: int
    streams: list[StreamProgress] = field(default_factory=list)
    error_message: str | None = None
    credentials_rejected: bool = False


@dataclass
class SyncResult:
    """The workflow's result: what ``sync --wait --json`` prints."""

    credential_id: int
    sync_log_id: int
    status: RunStatus
    records_processed: int
    records_rejected: int
    streams: list[StreamProgress]
    error_message: str | None = None
    dispatched: bool = False


@dataclass
class SyncProgress:
    """The ``progress`` query's answer."""

    credential_id: int
    sync_log_id: int | None
    status: str
    trigger: str
    mode: str
    data_type: str
    current_stream: str | None
    streams: list[StreamProgress]
    runs: int
    started_at: str


@dataclass
class LaunchInput:
    """A schedule's action: start the credential's sync unless one is running."""

    credential_id: int
    data_type: DataType = "both"
    mode: Mode = "incremental"
    pages_before_continue_as_new: int | None = None


@dataclass
class LaunchResult:
    started: bool
    workflow_id: str
    detail: str
