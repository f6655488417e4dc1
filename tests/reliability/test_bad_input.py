"""Bad records: every malformed-record case of the sandbox, on every stream, mixed into pages
of good records. Each is quarantined with a reason and its raw JSON, or applied with the
right values (duplicates: the newer version wins); the rest of each page lands; the sync
succeeds; and a bad ``modifiedOn`` never moves the high-water mark.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.badrecords import InjectedRecord
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.reliability.support import (
    KINDS,
    ReliabilityReport,
    Scenario,
    SecretLedger,
    Stopwatch,
    duplicate_rows,
    expected_contacts,
    extra_fetches,
    feed_records,
    local_refetches,
    record_issued_tokens,
    stored_contacts,
    tally_tenant,
)
from tests.sync.harness import (
    SyncHarness,
    expected_invoices,
    expected_members,
    stored_invoices,
    stored_members,
)

pytestmark = pytest.mark.reliability

TENANT = 4301
PAGE = 10
# Where source_modified_at sits in the rows of tests.sync.harness / support.stored_contacts.
MODIFIED_AT = {"customers": 15, "invoices": 21, "contacts": 5}
STREAM = {"customers": "customers", "contacts": "customer_contacts", "invoices": "invoices"}


@pytest.fixture
def sandbox(secret_ledger: SecretLedger) -> Sandbox:
    sandbox = Sandbox(
        SandboxConfig(
            tenants=[TenantSpec.make(TENANT, customers=80, invoices=120)], export_page_size=PAGE
        )
    )
    record_issued_tokens(sandbox, secret_ledger)
    return sandbox


def _feed_pages(sandbox: Sandbox, kind: str) -> list[list[Any]]:
    """The feed as the sandbox pages it (stdlib JSON: lone surrogates included)."""
    pages, cursor = [], None
    while True:
        page = sandbox.export_page(TENANT, kind, cursor)  # type: ignore[arg-type]
        body = json.loads(page.body)
        pages.append(body["data"])
        if not body["hasMore"]:
            return pages
        cursor = body["continueFrom"]


def _rejects(harness: SyncHarness) -> list[dict[str, Any]]:
    rows = harness.rows(
        "SELECT stream, record_id, reason, raw, company_id, credential_id "
        "FROM servicetitan_rejected_records"
    )
    return [
        {
            "stream": stream,
            "record_id": record_id,
            "reason": reason,
            "raw": json.loads(raw),
            "company_id": company,
            "credential_id": credential,
        }
        for stream, record_id, reason, raw, company, credential in rows
    ]


def _matches(reject: dict[str, Any], injected: InjectedRecord) -> bool:
    if reject["stream"] != STREAM[injected.kind]:
        return False
    if injected.id is not None:
        return bool(reject["record_id"] == str(injected.id))
    raw = reject["raw"]
    return isinstance(raw, dict) and raw.get("modifiedOn") == injected.modified_on


def _stored(harness: SyncHarness, kind: str) -> dict[Any, tuple[Any, ...]]:
    if kind == "customers":
        return stored_members(harness, TENANT)
    if kind == "invoices":
        return stored_invoices(harness, TENANT)
    return stored_contacts(harness.database_url, TENANT)


def _expected(harness: SyncHarness, kind: str) -> dict[Any, tuple[Any, ...]]:
    if kind == "customers":
        return expected_members(harness.sandbox, TENANT)
    if kind == "invoices":
        return expected_invoices(harness.sandbox, TENANT)
    return expected_contacts(harness.sandbox, TENANT)


def _key(kind: str, record_id: int) -> Any:
    return record_id if kind == "contacts" else str(record_id)


async def test_every_bad_record_case_on_every_stream(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    watch = Stopwatch()
    sandbox = harness.sandbox
    credential = await harness.add_tenant(TENANT)
    injected: list[InjectedRecord] = []
    for kind in KINDS:
        injected += sandbox.inject_bad_records(TENANT, kind)
    # Good changes after the bad ones, so the tail pages mix both.
    sandbox.mutate(TENANT, modify=12, add=6, contacts=8)
    pages = {kind: _feed_pages(sandbox, kind) for kind in STREAM}
    rejected_ids = {
        (i.kind, i.id if i.id is not None else i.modified_on)
        for i in injected
        if i.expect == "reject"
    }

    def is_bad(kind: str, record: Any) -> bool:
        rid = record.get("id") if isinstance(record, dict) else None
        key = rid if isinstance(rid, int) else (record or {}).get("modifiedOn")
        return bool((kind, key) in rejected_ids)

    for stream_kind, feed in pages.items():
        mixed = [
            p
            for p in feed
            if any(is_bad(stream_kind, r) for r in p) and not all(is_bad(stream_kind, r) for r in p)
        ]
        assert mixed, f"no {stream_kind} page mixes bad and good records: the setup proves nothing"

    result = await harness.sync(credential)

    assert result.status == "completed"
    rejects = _rejects(harness)
    expected_rejects = [i for i in injected if i.expect == "reject"]
    assert result.records_rejected == len(expected_rejects) == len(rejects)
    assert harness.rows("SELECT status, records_rejected FROM servicetitan_sync_logs") == [
        ("completed", len(expected_rejects))
    ]
    verdicts = {"reject": 0, "apply": 0, "warn": 0}
    for record in injected:
        stored = _stored(harness, record.kind)
        if record.expect == "reject":
            found = [r for r in rejects if _matches(r, record)]
            assert len(found) == 1, (record.kind, record.case, len(found))
            reject = found[0]
            assert reject["reason"].strip(), (record.case, reject)
            assert isinstance(reject["raw"], dict), record.case
            assert reject["credential_id"] == credential
            if record.id is not None:
                assert _key(record.kind, record.id) not in stored, record.case
        else:
            expected = _expected(harness, record.kind)
            key = _key(record.kind, record.id)  # type: ignore[arg-type]
            assert key in stored, (record.kind, record.case)
            assert stored[key] == expected[key], (record.kind, record.case)
            if record.case.startswith("duplicate"):
                # The newer of the two versions won.
                modified = stored[key][MODIFIED_AT[record.kind]]
                winner = datetime.fromisoformat(record.modified_on.replace("Z", "+00:00"))
                assert abs((modified - winner).total_seconds()) < 0.001, record.case
        verdicts[record.expect] += 1

    # The rest of every page landed: the three tables are exactly the sandbox's truth.
    tally = tally_tenant(harness.database_url, sandbox, TENANT)
    assert not tally.mismatched, tally.mismatched
    # A bad modifiedOn (unparsable, year 9999) never became the high-water mark.
    for stream, high_water in harness.rows(
        "SELECT stream, high_water_modified_on FROM servicetitan_sync_state"
    ):
        assert high_water is not None and high_water < datetime(2100, 1, 1, tzinfo=UTC), (
            stream,
            high_water,
        )

    # The next sync starts after the bad records: nothing rejected again, nothing refetched.
    again = await harness.sync(credential)
    assert again.status == "completed" and again.records_rejected == 0
    assert len(_rejects(harness)) == len(rejects)
    assert local_refetches(sandbox) == {}

    report.add(
        Scenario(
            "bad records: every case × 3 streams",
            records=feed_records(sandbox, TENANT),
            injected=f"{verdicts['reject']} to reject, {verdicts['apply']} to apply, "
            f"{verdicts['warn']} to land with a field NULL",
            expected_rows=tally.expected,
            found_rows=tally.found,
            duplicates=duplicate_rows(harness.database_url),
            refetched=extra_fetches(local_refetches(sandbox)),
            seconds=watch.seconds,
            note=f"{len(rejects)} quarantined with reason + raw JSON; "
            f"{sum(len(p) for p in pages.values())} pages",
        )
    )
