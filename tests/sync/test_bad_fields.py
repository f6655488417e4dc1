"""Bad fields versus bad records, through a real sync (issue 21).

The sandbox serves invoices with .NET's "no date", optional dates out of range or unparsable,
an over-long reference number, unusable money and unusable ids. Each record with a bad
optional field lands with that column NULL and exactly one warning (the "no date": none);
the others are quarantined; every other row is exactly the sandbox's truth.
"""

from __future__ import annotations

from decimal import Decimal

from db import reports
from sandbox.badrecords import NO_DATE
from tests.sync.conftest import TENANT
from tests.sync.harness import (
    SyncHarness,
    expected_invoices,
    expected_members,
    stored_invoices,
    stored_members,
)

WARNED = {"year_9999": "invoice_date", "unparsable_date": "invoice_date",
          "over_long_text": "reference_number"}  # fmt: skip
REJECTED = ("absurd_money", "wrong_type_field", "wrong_type_id", "missing_id")


async def test_bad_fields_land_null_with_one_warning_and_bad_records_are_quarantined(
    harness: SyncHarness,
) -> None:
    sandbox = harness.sandbox
    credential = await harness.add_tenant(TENANT)
    cases = ["no_date_sentinel", *WARNED, *REJECTED]
    injected = {i.case: i for i in sandbox.inject_bad_records(TENANT, "invoices", cases)}
    customer = sandbox.inject_bad_records(TENANT, "customers", ["over_long_text"])[0]
    assert [injected[c].expect for c in cases] == ["apply"] + ["warn"] * 3 + ["reject"] * 4

    result = await harness.sync(credential)

    assert result.status == "completed"
    assert result.records_rejected == len(REJECTED)
    rejected = harness.rows("SELECT stream, record_id, reason FROM servicetitan_rejected_records")
    assert len(rejected) == len(REJECTED)
    assert {stream for stream, _, _ in rejected} == {"invoices"}
    reasons = " | ".join(reason for _, _, reason in rejected)
    assert "total:" in reasons and "id:" in reasons

    warnings = harness.rows(
        "SELECT stream, record_id, column_name, value_prefix, credential_id, sync_log_id "
        "FROM servicetitan_field_warnings ORDER BY stream, record_id"
    )
    sync_log, field_warnings = harness.rows(
        "SELECT id, field_warnings FROM servicetitan_sync_logs"
    )[0]
    expected_warnings = sorted(
        [("invoices", str(injected[case].id), column) for case, column in WARNED.items()]
        + [("customers", str(customer.id), "customer_zip")]
    )
    assert sorted(w[:3] for w in warnings) == expected_warnings
    assert all(w[4:] == (credential, sync_log) for w in warnings)
    assert all(len(w[3]) <= 13 for w in warnings), "only a short prefix of the value is kept"
    assert field_warnings == len(expected_warnings)

    stored = stored_invoices(harness, TENANT)
    sentinel_id = injected["no_date_sentinel"].id
    assert sentinel_id is not None
    sentinel = stored[str(sentinel_id)]
    raw = sandbox.expected_state(TENANT, "invoices")[sentinel_id]
    assert raw["dueDate"] == NO_DATE
    assert sentinel[14] is None  # due_date
    assert sentinel[17] == Decimal(raw["total"]) and sentinel[13] is not None
    for case, column in WARNED.items():
        row = stored[str(injected[case].id)]
        assert row[13 if column == "invoice_date" else 1] is None, case
        assert row[17] is not None and row[3] is not None, case  # total, customer name
    for case in REJECTED:
        if injected[case].id is not None:
            assert str(injected[case].id) not in stored, case

    # Every row, including the warned ones, is exactly what the sandbox's truth maps to.
    assert stored == expected_invoices(sandbox, TENANT)
    assert stored_members(harness, TENANT) == expected_members(sandbox, TENANT)
    assert stored_members(harness, TENANT)[str(customer.id)][8] is None  # customer_zip


async def test_a_reject_spike_raises_an_alert(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.inject_bad_records(TENANT, "invoices", list(REJECTED))
    await harness.sync(credential)

    async with harness.database.transaction() as connection:
        health = await reports.credential_health(connection)
    assert [(h.credential_id, h.last_sync_rejected) for h in health] == [(credential, 4)]

    def spikes(records: int, percent: float) -> list[reports.Alert]:
        rule = reports.RejectSpike(records, percent)
        found = reports.evaluate_alerts(health, stale_after={}, reject_spike=rule)
        return [alert for alert in found if alert.kind == "rejects"]

    assert spikes(100, 5.0) == []  # 4 of ~1060
    (by_count,) = spikes(3, 50.0)
    assert by_count.credential_id == credential
    assert "quarantined 4 of" in by_count.detail and "threshold 3 records" in by_count.detail
    assert len(spikes(100, 0.1)) == 1  # by share
