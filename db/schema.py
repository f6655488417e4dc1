"""The database contract, as SQLAlchemy 2 tables (the table families: docs/architecture.md).

Alembic migrations in ``db/migrations`` create exactly this; a test compares the migrated
database with these definitions so the two cannot drift. Column comments say where a value
comes from, because the tables are read by people downstream who never see this code.

Conventions: timestamps are ``timestamptz``; money is ``NUMERIC`` (exact, no float); ids that
come from ServiceTitan are text in the record tables (the seed's tables also hold file-sourced
rows) and ``BIGINT`` elsewhere.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

SOFTWARE = "ServiceTitan"
ENVIRONMENTS = ("integration", "production")
CONNECTION_STATUSES = ("pending", "connected", "error")
SYNC_TYPES = ("manual", "scheduled")
DATA_TYPES = ("invoices", "customers", "both")
SYNC_STATUSES = ("running", "completed", "failed")
STREAMS = ("customers", "customer_contacts", "invoices")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


def _created() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(server_default=func.now(), onupdate=func.now())


# --------------------------------------------------------------------------------------------
# What the seed reused from its host platform, which we now own.
# --------------------------------------------------------------------------------------------


class Company(Base):
    """A contractor business. ``tenant`` on record rows is its intacct_id."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    intacct_id: Mapped[str] = mapped_column(String(64), unique=True)
    primary_trade: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    # The seed's per-company feature flag / kill switch.
    sync_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("length(btrim(intacct_id)) > 0", name="intacct_id_not_blank"),
    )


class CompanyDataImportJob(Base):
    """Progress of one import (one sync run); ``hub_plus_import_id`` on rows points here."""

    __tablename__ = "company_data_import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(50), server_default="PENDING")
    progress_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default="0")
    progress_text: Mapped[str | None] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        CheckConstraint(
            "progress_percent >= 0 AND progress_percent <= 100", name="progress_percent_range"
        ),
        Index(None, "company_id", "created_at"),
    )


# --------------------------------------------------------------------------------------------
# The seed's two tables, with its CHECK and UNIQUE constraints.
# --------------------------------------------------------------------------------------------


ENCRYPTED = "AES-256-GCM, bound to its row and column (core/crypto.py)"


class ServiceTitanCredential(Base):
    """One ServiceTitan tenant connection of a company, per environment. Secrets encrypted."""

    __tablename__ = "servicetitan_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    tenant_id: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(Text, comment=ENCRYPTED)
    client_secret: Mapped[str] = mapped_column(Text, comment=ENCRYPTED)
    environment: Mapped[str] = mapped_column(String(50))
    access_token: Mapped[str | None] = mapped_column(Text, comment=ENCRYPTED)
    refresh_token: Mapped[str | None] = mapped_column(
        Text, comment="Kept from the seed; ServiceTitan issues no refresh tokens, always NULL"
    )
    token_expires_at: Mapped[datetime | None] = mapped_column()
    connection_status: Mapped[str] = mapped_column(String(50), server_default="pending")
    last_sync_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    # Beyond the seed: why the connection is in error, and when the secret last changed.
    last_error: Mapped[str | None] = mapped_column(Text)
    secret_rotated_at: Mapped[datetime | None] = mapped_column()
    # Kill switch: a disabled credential starts no sync and stops a running one.
    sync_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("company_id", "environment"),
        CheckConstraint(_in("environment", ENVIRONMENTS), name="environment"),
        CheckConstraint(_in("connection_status", CONNECTION_STATUSES), name="connection_status"),
        CheckConstraint("refresh_token IS NULL", name="no_refresh_token"),
        CheckConstraint("tenant_id ~ '^[0-9]+$'", name="tenant_id_numeric"),
    )


class ServiceTitanSyncLog(Base):
    """One sync run: the seed's history table, plus the Temporal ids to find the run."""

    __tablename__ = "servicetitan_sync_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_credentials.id", ondelete="SET NULL"),
        comment="NULL once the credential is deleted; the run stays, with its import job",
    )
    sync_type: Mapped[str] = mapped_column(String(50))
    data_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(50))
    records_processed: Mapped[int] = mapped_column(Integer, server_default="0")
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column()
    # Beyond the seed.
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    run_id: Mapped[str | None] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(50), server_default="incremental")
    import_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("company_data_import_jobs.id", ondelete="SET NULL")
    )
    records_rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    field_warnings: Mapped[int] = mapped_column(
        Integer, server_default="0", comment="Fields stored as NULL (servicetitan_field_warnings)"
    )
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))

    __table_args__ = (
        CheckConstraint(_in("sync_type", SYNC_TYPES), name="sync_type"),
        CheckConstraint(_in("data_type", DATA_TYPES), name="data_type"),
        CheckConstraint(_in("status", SYNC_STATUSES), name="status"),
        CheckConstraint("records_processed >= 0", name="records_processed_non_negative"),
        Index(None, "credential_id", "started_at"),
        Index(
            "uq_servicetitan_sync_logs_one_running",
            "credential_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )


# --------------------------------------------------------------------------------------------
# The record tables (one row per ServiceTitan invoice / customer).
# --------------------------------------------------------------------------------------------


class _RecordColumns:
    """Columns every record table shares: who the row belongs to and where it came from.

    ``sort_order`` keeps these first (and the row timestamps last) in the table definition.
    """

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, sort_order=-100)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), sort_order=-90)
    tenant: Mapped[str] = mapped_column(String(64), comment="companies.intacct_id", sort_order=-80)
    trade: Mapped[str | None] = mapped_column(
        String(100), comment="companies.primary_trade", sort_order=-70
    )
    software: Mapped[str] = mapped_column(String(50), server_default=SOFTWARE, sort_order=-60)
    hub_plus_import_id: Mapped[int | None] = mapped_column(
        ForeignKey("company_data_import_jobs.id", ondelete="SET NULL"),
        comment="The import job (sync run) that last wrote the row",
        sort_order=-50,
    )
    source_tenant_id: Mapped[str] = mapped_column(
        String(64), comment="ServiceTitan tenant id", sort_order=-40
    )
    source_created_at: Mapped[datetime | None] = mapped_column(comment="createdOn", sort_order=100)
    source_modified_at: Mapped[datetime | None] = mapped_column(
        comment="modifiedOn", sort_order=101
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), sort_order=102)
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), sort_order=103
    )


class InvoiceStream(_RecordColumns, Base):
    """One row per ServiceTitan invoice (Accounting.V2.ExportInvoiceResponse)."""

    __tablename__ = "invoices_stream"

    invoice_number: Mapped[str] = mapped_column(String(64), comment="id")
    reference_number: Mapped[str | None] = mapped_column(String(255), comment="referenceNumber")
    customer_id: Mapped[str | None] = mapped_column(String(64), comment="customer.id")
    customer_name: Mapped[str | None] = mapped_column(Text, comment="customer.name")
    customer_first_name: Mapped[str | None] = mapped_column(Text)
    customer_last_name: Mapped[str | None] = mapped_column(Text)
    customer_address: Mapped[str | None] = mapped_column(Text, comment="customerAddress.street")
    customer_city: Mapped[str | None] = mapped_column(String(255))
    customer_state: Mapped[str | None] = mapped_column(String(100))
    customer_zip: Mapped[str | None] = mapped_column(String(20))
    job_number: Mapped[str | None] = mapped_column(String(255), comment="job.number")
    job_type: Mapped[str | None] = mapped_column(String(255), comment="job.type")
    business_unit: Mapped[str | None] = mapped_column(String(255), comment="businessUnit.name")
    invoice_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    subtotal: Mapped[Decimal | None] = mapped_column(Numeric, comment="subTotal")
    sales_tax: Mapped[Decimal | None] = mapped_column(Numeric, comment="salesTax")
    total: Mapped[Decimal | None] = mapped_column(Numeric)
    balance: Mapped[Decimal | None] = mapped_column(Numeric)
    active: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (
        UniqueConstraint(
            "company_id",
            "software",
            "source_tenant_id",
            "invoice_number",
            name="uq_invoices_stream_natural_key",
        ),
        Index(None, "company_id", "source_modified_at"),
    )


class MemberStream(_RecordColumns, Base):
    """One row per ServiceTitan customer (Crm.V2.ExportCustomerResponse + contacts)."""

    __tablename__ = "members_stream"

    customer_id: Mapped[str] = mapped_column(String(64), comment="id")
    customer_name: Mapped[str | None] = mapped_column(Text, comment="name")
    customer_type: Mapped[str | None] = mapped_column(String(50), comment="type")
    customer_first_name: Mapped[str | None] = mapped_column(Text)
    customer_last_name: Mapped[str | None] = mapped_column(Text)
    customer_address: Mapped[str | None] = mapped_column(Text, comment="address.street")
    customer_city: Mapped[str | None] = mapped_column(String(255))
    customer_state: Mapped[str | None] = mapped_column(String(100))
    customer_zip: Mapped[str | None] = mapped_column(String(20))
    customer_phone_number_primary: Mapped[str | None] = mapped_column(
        String(255), comment="Active Phone/MobilePhone contact with the lowest contact id"
    )
    customer_email: Mapped[str | None] = mapped_column(
        String(320), comment="Active Email contact with the lowest contact id"
    )
    active_member: Mapped[bool | None] = mapped_column(Boolean, comment="active")
    merged_to_id: Mapped[str | None] = mapped_column(String(64), comment="mergedToId")
    do_not_mail: Mapped[bool | None] = mapped_column(Boolean)
    do_not_service: Mapped[bool | None] = mapped_column(Boolean)
    balance: Mapped[Decimal | None] = mapped_column(Numeric)

    __table_args__ = (
        UniqueConstraint(
            "company_id",
            "software",
            "source_tenant_id",
            "customer_id",
            name="uq_members_stream_natural_key",
        ),
        Index(None, "company_id", "source_modified_at"),
    )


class CustomerContact(Base):
    """Every customer contact seen, so the primary phone/email can be recomputed exactly.

    Contacts arrive on their own export feed and a contact edit does not bump the customer's
    modifiedOn, so the member row's phone/email is derived from this table, not from the
    customer record.
    """

    __tablename__ = "servicetitan_customer_contacts"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), primary_key=True)
    source_tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str | None] = mapped_column(String(50))
    value: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool | None] = mapped_column(Boolean)
    source_modified_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        Index("ix_customer_contacts_customer", "company_id", "source_tenant_id", "customer_id"),
    )


# --------------------------------------------------------------------------------------------
# Sync machinery: cursors, staged pages, quarantine, outbox, audit.
# --------------------------------------------------------------------------------------------


class SyncState(Base):
    """The durable cursor per credential and stream, advanced with the rows it covers."""

    __tablename__ = "servicetitan_sync_state"

    credential_id: Mapped[int] = mapped_column(
        ForeignKey("servicetitan_credentials.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(String(50), primary_key=True)
    continue_from: Mapped[str | None] = mapped_column(
        Text, comment="The export's continueFrom token to resume from"
    )
    high_water_modified_on: Mapped[datetime | None] = mapped_column(
        comment="Largest modifiedOn applied so far"
    )
    pages_applied: Mapped[int] = mapped_column(BigInteger, server_default="0")
    records_applied: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_sync_log_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_sync_logs.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (CheckConstraint(_in("stream", STREAMS), name="stream"),)


class StagedPage(Base):
    """A fetched export page waiting to be applied (UNLOGGED: it can always be refetched).

    ``body`` holds the response bytes as received, compressed by the worker (zlib);
    ``applied_at``/``result`` make applying idempotent (a retried apply of an applied page
    returns the recorded result and changes nothing). ``finish_run`` deletes a run's pages.
    """

    __tablename__ = "servicetitan_staged_pages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("servicetitan_credentials.id", ondelete="CASCADE")
    )
    sync_log_id: Mapped[int] = mapped_column(
        ForeignKey("servicetitan_sync_logs.id", ondelete="CASCADE")
    )
    stream: Mapped[str] = mapped_column(String(50))
    cursor_in: Mapped[str] = mapped_column(Text, comment="the `from` sent ('' = from start)")
    cursor_out: Mapped[str | None] = mapped_column(Text, comment="continueFrom returned")
    has_more: Mapped[bool] = mapped_column(Boolean)
    record_count: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = _created()
    applied_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[dict[str, Any] | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("sync_log_id", "stream", "cursor_in"),
        CheckConstraint(_in("stream", STREAMS), name="stream"),
        {"prefixes": ["UNLOGGED"]},
    )


class RejectedRecord(Base):
    """A record that could not be applied: its raw JSON and why. Never silently dropped."""

    __tablename__ = "servicetitan_rejected_records"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_credentials.id", ondelete="SET NULL"),
        comment="NULL once the credential is deleted; the record stays",
    )
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    sync_log_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_sync_logs.id", ondelete="SET NULL")
    )
    stream: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, comment="The record's JSON, ASCII-escaped")
    rejected_at: Mapped[datetime] = _created()
    resolved_at: Mapped[datetime | None] = mapped_column(
        comment="When a replay applied the record (it is kept, no longer listed by default)"
    )
    resolved_by: Mapped[str | None] = mapped_column(
        String(255), comment="Who replayed it: the operator or process (db.audit actor)"
    )

    __table_args__ = (
        CheckConstraint(_in("stream", STREAMS), name="stream"),
        Index(None, "credential_id", "rejected_at"),
    )


class FieldWarning(Base):
    """A field stored as NULL because its value broke a rule; the record itself was applied."""

    __tablename__ = "servicetitan_field_warnings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_credentials.id", ondelete="SET NULL"),
        comment="NULL once the credential is deleted; the warning stays",
    )
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    sync_log_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_sync_logs.id", ondelete="SET NULL")
    )
    stream: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[str] = mapped_column(String(64))
    column_name: Mapped[str] = mapped_column(String(100))
    value_prefix: Mapped[str] = mapped_column(
        String(64), comment="The start of the offending value, ASCII-escaped; never all of it"
    )
    reason: Mapped[str] = mapped_column(Text)
    warned_at: Mapped[datetime] = _created()

    __table_args__ = (
        CheckConstraint(_in("stream", STREAMS), name="stream"),
        Index(None, "credential_id", "warned_at"),
    )


OUTBOX_STATUSES = ("pending", "dispatched", "skipped", "acknowledged")


class DispatchOutbox(Base):
    """Hand-off to downstream processing: one row per run that synced records."""

    __tablename__ = "servicetitan_dispatch_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sync_log_id: Mapped[int] = mapped_column(
        ForeignKey("servicetitan_sync_logs.id", ondelete="CASCADE"), unique=True
    )
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicetitan_credentials.id", ondelete="SET NULL"),
        comment="NULL once the credential is deleted; the hand-off stays",
    )
    records_synced: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    target_workflow_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _created()
    dispatched_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(
        comment="When the downstream consumer acknowledged the row (outbox ack)"
    )
    acknowledged_by: Mapped[str | None] = mapped_column(
        String(255), comment="Who acknowledged it (db.audit actor)"
    )

    __table_args__ = (CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),)


class AuditLog(Base):
    """Who did what to which credential, and when. Never holds a secret."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    occurred_at: Mapped[datetime] = _created()
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100))
    company_id: Mapped[int | None] = mapped_column(Integer)
    credential_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))

    __table_args__ = (
        Index(None, "credential_id", "occurred_at"),
        Index(None, "action", "occurred_at"),
    )


class RateLimit(Base):
    """The ServiceTitan request budget of one (app key, tenant), shared by every worker.

    One row per key holds a GCRA's theoretical arrival time on the database clock; each
    request moves it on by one interval (``db/rate_limits.py``). ``UNLOGGED``: after a crash
    the table starts empty, which only forgets the last second of pacing.
    """

    __tablename__ = "servicetitan_rate_limits"

    app_key_digest: Mapped[str] = mapped_column(
        String(64),
        primary_key=True,
        comment="SHA-256 (hex, first 16 digits) of the ST-App-Key; the key is never stored",
    )
    tenant_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, comment="ServiceTitan tenant id"
    )
    theoretical_arrival: Mapped[datetime] = mapped_column(
        comment="When the next request is due at the steady rate (database clock)"
    )

    __table_args__ = ({"prefixes": ["UNLOGGED"]},)


API_ROLES = ("admin", "company_admin", "company_user")


class ApiToken(Base):
    """An HTTP API token: only its SHA-256 is stored; the text is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, comment="SHA-256 (hex) of the token; the token is never stored"
    )
    role: Mapped[str] = mapped_column(String(50))
    company_ids: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{}'"), comment="Companies it acts for (admin: none)"
    )
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint(_in("role", API_ROLES), name="role"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )


metadata = Base.metadata
