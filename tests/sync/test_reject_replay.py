"""Replaying quarantined records (issue 21): after a rule is relaxed, the rejects land exactly,
through the sync's own upsert, without a resync.

The records are quarantined by a real sync under a stricter rule (the old all-or-nothing one:
every bad field rejects its record); the rule is relaxed; the replay maps the stored raw JSON
with the current code. A newer version that landed meanwhile is not overwritten, and a second
replay changes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

import records.pipeline
from db.quarantine import list_rejects
from records.pipeline import map_invoices
from runtime.reject_replay import AUDIT_ACTION, replay_rejects
from tests.sync.conftest import TENANT
from tests.sync.harness import HarnessFactory, SyncHarness, expected_invoices, stored_invoices

CASES = ["year_9999", "unparsable_date", "over_long_text"]
ACTOR = "cli:test@replay"


def strict_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every problem rejects, as before issue 21 (mapping runs in this process)."""
    monkeypatch.setattr(records.pipeline, "is_essential", lambda record_type, column: True)
    monkeypatch.setattr(records.pipeline, "_salvage", lambda rules, raw: None)


async def replay(harness: SyncHarness, **filters: Any) -> Any:
    async with harness.database.transaction() as connection:
        return await replay_rejects(connection, actor=ACTOR, **filters)


def snapshot(harness: SyncHarness) -> list[tuple[Any, ...]]:
    return harness.rows(
        "SELECT invoice_number, reference_number, invoice_date, source_modified_at, updated_at "
        "FROM invoices_stream ORDER BY invoice_number"
    )


async def test_replay_lands_rejects_once_and_never_overwrites_a_newer_version(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_harness(sync_mapping_processes=0) as harness:
        sandbox = harness.sandbox
        credential = await harness.add_tenant(TENANT)
        injected = {i.case: i for i in sandbox.inject_bad_records(TENANT, "invoices", CASES)}
        strict_rule(monkeypatch)
        result = await harness.sync(credential, data_type="invoices")
        monkeypatch.undo()

        assert result.status == "completed" and result.records_rejected == len(CASES)
        stored = stored_invoices(harness, TENANT)
        assert all(str(i.id) not in stored for i in injected.values())

        # A newer version of one of them lands meanwhile (here through a reject of its own).
        newer_id = injected["year_9999"].id
        (raw_text,) = harness.rows(
            "SELECT raw FROM servicetitan_rejected_records WHERE record_id = %s", str(newer_id)
        )[0]
        raw = json.loads(raw_text)
        modified = datetime.fromisoformat(raw["modifiedOn"]) + timedelta(hours=1)
        newer = {
            **raw,
            "modifiedOn": modified.isoformat(),
            "invoiceDate": "2024-05-06T00:00:00Z",
            "referenceNumber": "NEWER",
        }
        harness.rows(
            "INSERT INTO servicetitan_rejected_records "
            "(credential_id, company_id, stream, record_id, reason, raw) "
            "SELECT id, company_id, 'invoices', %s, 'a newer version', %s "
            "FROM servicetitan_credentials RETURNING id",
            str(newer_id),
            json.dumps(newer),
        )
        first = await replay(harness, reason="newer version")
        assert (first.examined, first.landed, first.inserted) == (1, 1, 1)

        dry = await replay(harness, credential_id=credential, dry_run=True)
        assert (dry.examined, dry.landed, dry.inserted) == (3, 3, 0)
        assert len(stored_invoices(harness, TENANT)) == len(stored) + 1, "a dry run writes nothing"

        report = await replay(harness, credential_id=credential, stream="invoices")
        assert (report.examined, report.landed, report.still_rejected) == (3, 3, 0)
        assert (report.inserted, report.updated, report.unchanged) == (2, 0, 1)

        # They landed exactly; the older version did not overwrite the newer one.
        expected = expected_invoices(sandbox, TENANT, customers_known=False)
        expected[str(newer_id)] = map_invoices([newer]).rows[0].as_tuple()
        assert stored_invoices(harness, TENANT) == expected
        assert expected[str(newer_id)][1] == "NEWER"

        async with harness.database.transaction() as connection:
            assert await list_rejects(connection) == []
            resolved = await list_rejects(connection, resolution="resolved")
        assert len(resolved) == 4
        assert {(r.resolved_by, r.resolved_at is not None) for r in resolved} == {(ACTOR, True)}

        # Again: nothing to replay, nothing changes.
        before = snapshot(harness)
        again = await replay(harness)
        assert (again.examined, again.landed) == (0, 0)
        assert snapshot(harness) == before
        audits = harness.rows("SELECT actor FROM audit_log WHERE action = %s", AUDIT_ACTION)
        assert audits == [(ACTOR,)] * 3
