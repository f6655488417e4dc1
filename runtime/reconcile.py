"""Reconciliation: does what we stored match what ServiceTitan holds now?

ServiceTitan is read through its paged *list* endpoints, not the export feeds the sync uses,
so the check does not share the sync's path to the data. For customers and invoices (contacts
are not checked on their own):

- counts from ``includeTotal`` (all records, and active ones) against the tables;
- every listed record against the stored rows by id and ``modifiedOn``, so missing, extra and
  out-of-date rows are found exactly; sums of invoice totals and balances (customer balances);
- a sample of records mapped with the sync's own record maps and compared column by column
  (the columns the record itself determines: a member's phone and email come from its
  contacts and are not compared).

Each difference is explained where the data allows: records quarantined by the sync, records
added after the stream's high-water ``modifiedOn`` or modified since their row was written,
rows whose record ServiceTitan no longer returns. What cannot be explained is reported as such.

It writes no row, cursor or sync log; the only write is a fresh access token to the shared
token cache, when one is needed. A stream's listed records are held in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from core.crypto import SecretBox
from db import credentials as credential_store
from db import snapshot
from db.database import Database
from db.members import customer_types
from db.snapshot import StoredRecord
from db.token_store import DatabaseTokenStore
from records.invoice import INVOICE_COLUMNS
from records.member import MEMBER_COLUMNS
from records.pipeline import map_customers, map_invoices
from servicetitan.client import ServiceTitanClient
from servicetitan.config import ClientConfig, Credentials
from servicetitan.models import parse_timestamp
from servicetitan.pages import ListResource

LABELS = {"invoices": "invoices", "customers": "customers"}
SHOWN_IDS = 50


@dataclass
class StreamReport:
    stream: str
    api_count_all: int | None
    api_count_active: int | None
    db_count_all: int
    db_count_active: int
    api_records_listed: int
    sums: dict[str, dict[str, str]] = field(default_factory=dict)
    missing_in_db: list[str] = field(default_factory=list)
    missing_quarantined: list[str] = field(default_factory=list)
    missing_changed_since_sync: list[str] = field(default_factory=list)
    extra_in_db: list[str] = field(default_factory=list)
    changed_since_sync: list[str] = field(default_factory=list)
    sample_size: int = 0
    sample_mismatches: list[dict[str, str]] = field(default_factory=list)
    quarantined_total: int = 0
    explanations: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (
            self.missing_in_db
            or self.extra_in_db
            or self.changed_since_sync
            or self.sample_mismatches
            or self.unexplained
        )


@dataclass
class ReconcileReport:
    credential_id: int
    tenant_id: str
    checked_at: str
    streams: list[StreamReport]

    @property
    def in_sync(self) -> bool:
        return all(s.in_sync for s in self.streams)

    @property
    def unexplained(self) -> list[str]:
        return [f"{s.stream}: {text}" for s in self.streams for text in s.unexplained]

    def as_dict(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "tenant_id": self.tenant_id,
            "checked_at": self.checked_at,
            "in_sync": self.in_sync,
            "unexplained": self.unexplained,
            "streams": [{**s.__dict__, "in_sync": s.in_sync} for s in self.streams],
        }


async def reconcile(
    database: Database,
    box: SecretBox,
    config: ClientConfig,
    credential_id: int,
    *,
    data_type: str = "both",
    sample: int = 200,
    http: httpx.AsyncClient | None = None,
) -> ReconcileReport:
    async with database.transaction() as connection:
        context = await credential_store.credential_context(connection, credential_id)
        secrets = await credential_store.load_secrets(connection, box, credential_id)
    client = ServiceTitanClient(
        Credentials(
            credential_id=credential_id,
            tenant_id=int(context.tenant_id),
            environment="production" if context.environment == "production" else "integration",
            client_id=secrets.client_id,
            client_secret=secrets.client_secret,
        ),
        config,
        DatabaseTokenStore(database, box),
        http=http,
    )
    streams = ["customers", "invoices"] if data_type == "both" else [data_type]
    reports = []
    for stream in streams:
        reports.append(
            await _reconcile_stream(
                database,
                client,
                context.company_id,
                context.tenant_id,
                credential_id,
                stream,
                sample,
            )
        )
    return ReconcileReport(
        credential_id, context.tenant_id, datetime.now(UTC).isoformat(timespec="seconds"), reports
    )


async def _reconcile_stream(
    database: Database,
    client: ServiceTitanClient,
    company_id: int,
    tenant_id: str,
    credential_id: int,
    stream: str,
    sample: int,
) -> StreamReport:
    resource = ListResource.INVOICES if stream == "invoices" else ListResource.CUSTOMERS
    count_all = await client.count(resource, include_inactive=True)
    count_active = await client.count(resource, include_inactive=False)
    api: dict[str, dict[str, Any]] = {}
    async for page in client.list_pages(resource, include_inactive=True):
        for record in page.records():
            if isinstance(record, dict) and isinstance(record.get("id"), int):
                api[str(record["id"])] = record
    columns = INVOICE_COLUMNS if stream == "invoices" else MEMBER_COLUMNS
    async with database.transaction() as connection:
        stored = await snapshot.stored_records(
            connection,
            stream=stream,
            company_id=company_id,
            source_tenant_id=tenant_id,
            columns=columns,
        )
        quarantined = await snapshot.quarantined_ids(connection, credential_id, stream)
        high_water = await snapshot.high_water(connection, credential_id, stream)
        types = (
            await customer_types(
                connection,
                company_id,
                tenant_id,
                sorted(
                    {
                        str(r["customer"]["id"])
                        for r in api.values()
                        if isinstance(r.get("customer"), dict)
                        and isinstance(r["customer"].get("id"), int)
                    }
                ),
            )
            if stream == "invoices"
            else {}
        )
    report = StreamReport(
        stream=stream,
        api_count_all=count_all,
        api_count_active=count_active,
        db_count_all=len(stored),
        db_count_active=sum(1 for s in stored.values() if s.active),
        api_records_listed=len(api),
        quarantined_total=len(quarantined),
    )
    _compare_sets(report, api, stored, quarantined, high_water)
    _compare_sums(report, api, stored)
    _compare_sample(report, api, stored, types, sample)
    _explain(report)
    return report


def _modified(record: dict[str, Any]) -> datetime | None:
    value = record.get("modifiedOn")
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _compare_sets(
    report: StreamReport,
    api: dict[str, dict[str, Any]],
    stored: dict[str, StoredRecord],
    quarantined: set[str],
    high_water: datetime | None,
) -> None:
    for key in sorted(api.keys() - stored.keys(), key=int):
        report.missing_in_db.append(key)
        modified = _modified(api[key])
        if key in quarantined:
            report.missing_quarantined.append(key)
        elif high_water is None or (modified is not None and modified > high_water):
            report.missing_changed_since_sync.append(key)
    report.extra_in_db = sorted(stored.keys() - api.keys(), key=lambda k: (len(k), k))
    for key in sorted(api.keys() & stored.keys(), key=int):
        modified, held = _modified(api[key]), stored[key].modified_at
        if modified is not None and held is not None and modified > held:
            report.changed_since_sync.append(key)


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _compare_sums(
    report: StreamReport, api: dict[str, dict[str, Any]], stored: dict[str, StoredRecord]
) -> None:
    fields = (
        {"total": "total", "balance": "balance"}
        if report.stream == "invoices"
        else {"balance": "balance"}
    )
    for name, api_field in fields.items():
        api_sum = sum((_money(r.get(api_field)) for r in api.values()), Decimal(0))
        db_sum = sum((getattr(s, name) or Decimal(0) for s in stored.values()), Decimal(0))
        # What the rows would sum to if every explained difference were synced.
        differing = set(report.missing_in_db) | set(report.changed_since_sync)
        expected_db = (
            api_sum
            - sum((_money(api[k].get(api_field)) for k in differing), Decimal(0))
            + sum(
                (getattr(stored[k], name) or Decimal(0) for k in report.changed_since_sync),
                Decimal(0),
            )
            + sum((getattr(stored[k], name) or Decimal(0) for k in report.extra_in_db), Decimal(0))
        )
        report.sums[name] = {
            "api": str(api_sum),
            "db": str(db_sum),
            "difference": str(api_sum - db_sum),
            "explained": str(expected_db == db_sum).lower(),
        }


def _compare_sample(
    report: StreamReport,
    api: dict[str, dict[str, Any]],
    stored: dict[str, StoredRecord],
    types: dict[int, str | None],
    sample: int,
) -> None:
    changed = set(report.changed_since_sync)
    common = sorted((api.keys() & stored.keys()) - changed, key=int)
    if not common or sample <= 0:
        return
    step = max(1, len(common) // sample)
    chosen = common[::step][:sample]
    raws = [api[k] for k in chosen]
    mapped = map_invoices(raws, types) if report.stream == "invoices" else map_customers(raws)
    columns = INVOICE_COLUMNS if report.stream == "invoices" else MEMBER_COLUMNS
    report.sample_size = len(chosen)
    for row in mapped.rows:
        expected = row.as_tuple()
        key = str(expected[0])
        held = stored[key].row
        for column, want, have in zip(columns, expected, held, strict=True):
            if want != have:
                report.sample_mismatches.append(
                    {"id": key, "column": column, "servicetitan": str(want), "stored": str(have)}
                )
    for reject in mapped.rejects:
        report.sample_mismatches.append(
            {
                "id": str(reject.record_id),
                "column": "*",
                "servicetitan": reject.reason,
                "stored": "(row present although the record does not map)",
            }
        )


def _explain(report: StreamReport) -> None:
    label = LABELS[report.stream]
    if report.missing_quarantined:
        report.explanations.append(
            f"{len(report.missing_quarantined)} {label} quarantined by the sync "
            "(see `starter.py rejects`)"
        )
    if report.missing_changed_since_sync:
        report.explanations.append(
            f"{len(report.missing_changed_since_sync)} {label} added after the last sync"
        )
    if report.changed_since_sync:
        report.explanations.append(
            f"{len(report.changed_since_sync)} {label} modified after the last sync"
        )
    if report.extra_in_db:
        report.explanations.append(
            f"{len(report.extra_in_db)} {label} stored but no longer returned by ServiceTitan "
            "(deleted there?)"
        )
    explained_missing = set(report.missing_quarantined) | set(report.missing_changed_since_sync)
    unexplained_missing = [k for k in report.missing_in_db if k not in explained_missing]
    if unexplained_missing:
        report.unexplained.append(
            f"{len(unexplained_missing)} {label} missing without a reason: "
            + ", ".join(unexplained_missing[:SHOWN_IDS])
        )
    if report.sample_mismatches:
        ids = sorted({m["id"] for m in report.sample_mismatches})
        report.unexplained.append(
            f"{len(ids)} of {report.sample_size} sampled {label} differ field by field: "
            + ", ".join(ids[:SHOWN_IDS])
        )
    for name, sums in report.sums.items():
        if Decimal(sums["difference"]) != 0 and sums["explained"] != "true":
            report.unexplained.append(
                f"sum of {name} differs by {sums['difference']} beyond the records explained"
            )
    listed_gap = (report.api_count_all or 0) - report.api_records_listed
    if report.api_count_all is not None and listed_gap:
        report.explanations.append(
            f"ServiceTitan's count and its listing differ by {listed_gap} "
            "(records changed while reconciling)"
        )
