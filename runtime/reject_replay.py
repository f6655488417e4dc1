"""Replay quarantined records: map their stored raw JSON again with today's code, apply those
that now pass.

For after a fix (a rule relaxed, a mapping corrected): no resync of the tenant is needed. The
records that pass go through the sync's own upsert, so a newer version that landed meanwhile
wins, and replaying twice changes nothing. Each reject that landed is marked resolved (kept,
with when and by whom); the others stay as they are. The replay runs in one transaction and
is audited. ``dry_run`` maps and counts but writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from db import audit
from db.credentials import credential_context
from db.members import customer_types
from db.quarantine import ReplayCandidate, mark_resolved, replay_candidates
from db.record_writer import (
    RowContext,
    UpsertCounts,
    invoice_table,
    member_table,
    upsert_batches,
    upsert_contact_batches,
)
from db.warnings import store_warnings
from records.contact import CONTACT_COLUMNS
from records.copy_text import encode_rows
from records.invoice import INVOICE_COLUMNS
from records.member import MEMBER_COLUMNS
from records.pipeline import FieldWarning
from records.prepared import map_records
from servicetitan.pages import ExportStream

AUDIT_ACTION = "rejects.replay"
_BATCH_SIZE = 2000


@dataclass
class ReplayReport:
    """What a replay found and did (``dry_run``: what it would do)."""

    examined: int = 0
    landed: int = 0
    still_rejected: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: int = 0
    dry_run: bool = False
    resolved_ids: list[int] = field(default_factory=list)


@dataclass
class _Group:
    """The rejects of one credential and stream that now map to rows."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    warnings: list[FieldWarning] = field(default_factory=list)
    import_job_id: int | None = None


async def replay_rejects(
    connection: AsyncConnection,
    *,
    actor: str,
    credential_id: int | None = None,
    stream: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Replay the unresolved rejects matching the filters, in the caller's transaction."""
    report = ReplayReport(dry_run=dry_run)
    candidates = await replay_candidates(
        connection, credential_id=credential_id, stream=stream, reason=reason
    )
    report.examined = len(candidates)
    by_group: dict[tuple[int, str], list[ReplayCandidate]] = defaultdict(list)
    for candidate in candidates:
        by_group[(candidate.credential_id, candidate.stream)].append(candidate)
    for (credential, group_stream), group in sorted(by_group.items()):
        landed = await _map_group(connection, credential, group_stream, group)
        report.landed += len(landed.ids)
        report.warnings += len(landed.warnings)
        if dry_run or not landed.ids:
            continue
        counts = await _apply_group(connection, credential, group_stream, landed)
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        report.resolved_ids += landed.ids
    report.still_rejected = report.examined - report.landed
    if not dry_run:
        await mark_resolved(connection, report.resolved_ids, by=actor)
        await audit.record(
            connection,
            AUDIT_ACTION,
            actor=actor,
            credential_id=credential_id,
            details={
                "stream": stream,
                "reason": reason,
                "examined": report.examined,
                "landed": report.landed,
                "inserted": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
        )
    return report


async def _map_group(
    connection: AsyncConnection, credential: int, stream: str, group: list[ReplayCandidate]
) -> _Group:
    """The group's rejects that map to rows now, one by one (a reject is one record).

    Rejects of one record (rejected by several syncs) become one row, its newest version by
    ``modifiedOn``, as a page's duplicates do: one statement cannot upsert a key twice. Every
    one of them is resolved by it.
    """
    records = [_parsed(candidate.raw) for candidate in group]
    types: dict[int, str | None] | None = None
    if stream == ExportStream.INVOICES:
        context = await credential_context(connection, credential)
        ids = sorted({i for i in map(_customer_id, records) if i is not None})
        types = await customer_types(connection, context.company_id, context.tenant_id, ids)
    landed = _Group()
    newest: dict[Any, tuple[Any, list[FieldWarning]]] = {}
    for candidate, record in zip(group, records, strict=True):
        mapped = map_records(stream, [record], types)
        if not mapped.rows:
            continue
        row = mapped.rows[0]
        landed.ids.append(candidate.id)
        landed.import_job_id = candidate.import_job_id or landed.import_job_id
        kept = newest.get(row.key)
        if kept is None or _not_older(row, kept[0]):
            newest[row.key] = (row, mapped.warnings)
    for row, warnings in newest.values():
        landed.rows.append(row.as_tuple())
        landed.warnings.extend(warnings)
    return landed


def _not_older(row: Any, other: Any) -> bool:
    """``row`` is at least as new as ``other`` (no ``modifiedOn``: the later reject wins)."""
    mine, theirs = row.source_modified_at, other.source_modified_at
    return mine is None or theirs is None or mine >= theirs


async def _apply_group(
    connection: AsyncConnection, credential: int, stream: str, landed: _Group
) -> UpsertCounts:
    """Upsert the rows exactly as a sync does, and keep their field warnings."""
    context = await credential_context(connection, credential)
    row_context = RowContext(
        company_id=context.company_id,
        tenant=context.intacct_id,
        trade=context.primary_trade,
        import_job_id=landed.import_job_id,
        source_tenant_id=context.tenant_id,
    )
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if stream == ExportStream.CUSTOMER_CONTACTS:
        batches = encode_rows(landed.rows, batch_size=_BATCH_SIZE)
        counts, _ = await upsert_contact_batches(
            driver, context.company_id, context.tenant_id, batches, CONTACT_COLUMNS
        )
    else:
        batches = encode_rows(landed.rows, prefix=row_context.values(), batch_size=_BATCH_SIZE)
        spec = (
            invoice_table(INVOICE_COLUMNS)
            if stream == ExportStream.INVOICES
            else member_table(MEMBER_COLUMNS)
        )
        counts = await upsert_batches(driver, spec, batches)
    await store_warnings(
        connection,
        credential_id=credential,
        company_id=context.company_id,
        sync_log_id=None,
        stream=stream,
        warnings=landed.warnings,
    )
    return counts


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # not JSON: it stays a reject


def _customer_id(record: Any) -> str | None:
    customer = record.get("customer") if type(record) is dict else None
    value = customer.get("id") if type(customer) is dict else None
    return str(value) if type(value) is int else None
