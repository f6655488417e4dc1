"""A full sync lands exactly the sandbox's data, and nothing secret or bulky enters history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from temporalio.api.enums.v1 import EventType

from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness, stored_invoices, stored_members


async def test_full_sync_produces_exactly_the_expected_rows(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    result = await harness.sync(credential)

    assert result.status == "completed"
    members, invoices = stored_members(harness, TENANT), stored_invoices(harness, TENANT)
    assert members == harness.expected_members(TENANT)
    assert invoices == harness.expected_invoices(TENANT)
    # No duplicates: one row per natural key (the dict above would hide duplicates).
    assert harness.scalar("SELECT count(*) FROM members_stream") == len(members)
    assert harness.scalar("SELECT count(*) FROM invoices_stream") == len(invoices)
    # Every page of every stream was fetched exactly once.
    assert harness.sandbox.counters.refetched() == {}

    by_stream = {s.stream: s for s in result.streams}
    assert by_stream["customers"].inserted == len(members)
    assert by_stream["invoices"].inserted == len(invoices)
    assert by_stream["customer_contacts"].records == sum(
        1 for _ in harness.sandbox.contacts(TENANT)
    )
    assert result.records_rejected == 0
    assert result.records_processed == sum(s.records for s in result.streams)

    log = harness.rows(
        "SELECT status, sync_type, data_type, records_processed, completed_at IS NOT NULL "
        "FROM servicetitan_sync_logs"
    )
    assert log == [("completed", "manual", "both", result.records_processed, True)]
    status = harness.rows(
        "SELECT connection_status, last_sync_at IS NOT NULL FROM servicetitan_credentials"
    )
    assert status == [("connected", True)]
    job = harness.rows("SELECT status, done, progress_percent FROM company_data_import_jobs")
    assert job == [("COMPLETED", True, Decimal("100.00"))]
    # Rows point at their import job, and staged pages are cleaned up.
    assert harness.scalar("SELECT count(DISTINCT hub_plus_import_id) FROM invoices_stream") == 1
    assert harness.scalar("SELECT count(*) FROM servicetitan_staged_pages") == 0
    assert harness.scalar("SELECT count(*) FROM servicetitan_dispatch_outbox") == 1


async def test_values_match_the_api_field_by_field(harness: SyncHarness) -> None:
    """An independent check of the mapping, straight from the raw API records."""
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    invoices = stored_invoices(harness, TENANT)
    checked_negative = checked_null_address = 0
    for raw in harness.sandbox.expected_state(TENANT, "invoices").values():
        row = invoices[str(raw["id"])]
        assert row[1] == raw["referenceNumber"]
        assert row[17] == (Decimal(raw["total"]) if raw["total"] is not None else None)
        assert row[18] == (Decimal(raw["balance"]) if raw["balance"] is not None else None)
        if raw["invoiceDate"]:
            assert row[13] == date.fromisoformat(raw["invoiceDate"][:10])
        customer = raw.get("customer") or {}
        assert row[2] == (str(customer["id"]) if customer.get("id") else None)
        assert row[3] == customer.get("name")
        if raw["total"] is not None and Decimal(raw["total"]) < 0:
            checked_negative += 1
        if raw.get("customerAddress") is None:
            checked_null_address += 1
            assert row[6:10] == (None, None, None, None)
    assert checked_negative > 0 and checked_null_address > 0  # the data exercised both

    members = stored_members(harness, TENANT)
    contacts = list(harness.sandbox.expected_state(TENANT, "contacts").values())
    merged = 0
    for raw in harness.sandbox.expected_state(TENANT, "customers").values():
        row = members[str(raw["id"])]
        assert row[1] == raw["name"] and row[2] == raw["type"]
        assert row[9] == raw["active"]
        assert row[13] == Decimal(str(raw["balance"]))
        if raw.get("mergedToId"):
            merged += 1
            assert row[10] == str(raw["mergedToId"]) and row[9] is False
        phones = sorted(
            (c["id"], c["value"])
            for c in contacts
            if c["customerId"] == raw["id"]
            and c["active"] is True
            and c["type"] in ("Phone", "MobilePhone")
            and (c["value"] or "").strip()
        )
        assert row[16] == (phones[0][1] if phones else None)
    assert merged > 0


async def test_history_holds_no_secret_and_no_record_data(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    handle = await harness.start(credential)
    await handle.result()
    history = await handle.fetch_history()
    text = history.to_json()
    spec = harness.sandbox.config.tenant(TENANT)
    tokens = harness.rows("SELECT access_token FROM servicetitan_credentials")
    assert spec.client_secret not in text
    assert spec.client_id not in text
    assert tokens[0][0] and tokens[0][0] not in text  # not even the ciphertext
    assert "Bearer" not in text
    # Record data stays in PostgreSQL: no customer name or invoice reference in history.
    some_customer = next(iter(harness.sandbox.expected_state(TENANT, "customers").values()))
    some_invoice = next(iter(harness.sandbox.expected_state(TENANT, "invoices").values()))
    assert some_customer["name"] not in text
    assert f'"{some_invoice["referenceNumber"]}"' not in text
    # And every payload is small: references and counters only.
    biggest = max(
        len(event.activity_task_completed_event_attributes.result.SerializeToString())
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    )
    assert biggest < 4096
