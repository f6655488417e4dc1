"""map_invoices / map_customers / map_contacts: one page in, rows and rejects out, nothing lost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import records.pipeline as pipeline
from records.pipeline import MappedPage, Reject, map_contacts, map_customers, map_invoices


def assert_accounted_for(page: MappedPage[Any]) -> None:
    assert page.received == page.mapped + page.rejected + page.superseded


def test_a_clean_page_maps_in_order(raw_invoice):
    raws = [raw_invoice(id=i) for i in (3, 1, 2)]
    page = map_invoices(raws)
    assert [row.invoice_number for row in page.rows] == ["3", "1", "2"]
    assert (page.received, page.mapped, page.rejected, page.superseded) == (3, 3, 0, 0)
    assert page.rejects == []


def test_an_empty_page():
    page = map_customers([])
    assert (page.received, page.mapped, page.rejected, page.superseded) == (0, 0, 0, 0)


def test_duplicates_keep_the_last_occurrence_at_its_position(raw_invoice):
    raws = [
        raw_invoice(id=1, total="1.00"),
        raw_invoice(id=2, total="2.00"),
        raw_invoice(id=1, total="1.50"),
        raw_invoice(id=3, total="3.00"),
        raw_invoice(id=1, total="1.75"),
    ]
    page = map_invoices(raws)
    assert [(row.invoice_number, row.total) for row in page.rows] == [
        ("2", Decimal("2.00")),
        ("3", Decimal("3.00")),
        ("1", Decimal("1.75")),
    ]
    assert (page.mapped, page.superseded, page.rejected) == (3, 2, 0)
    assert_accounted_for(page)


def test_a_valid_record_superseded_by_an_invalid_one_is_not_written(raw_invoice):
    """The newest version is the truth; an older one must not be written in its place."""
    page = map_invoices([raw_invoice(id=1, total="1.00"), raw_invoice(id=1, total="junk")])
    assert page.rows == []
    assert page.superseded == 1
    assert [(reject.record_id, reject.reason) for reject in page.rejects] == [
        ("1", "total: not a number ('junk')")
    ]
    assert_accounted_for(page)


def test_an_invalid_record_superseded_by_a_valid_one_is_not_a_reject(raw_customer):
    page = map_customers([raw_customer(id=5, balance="junk"), raw_customer(id=5)])
    assert [row.customer_id for row in page.rows] == ["5"]
    assert (page.rejected, page.superseded) == (0, 1)


def test_a_malformed_record_is_rejected_with_its_raw_json_and_the_rest_maps(raw_invoice):
    bad = raw_invoice(id=2, total="abc", active="yes")
    missing_id = raw_invoice()
    del missing_id["id"]
    raws = [raw_invoice(id=1), bad, missing_id, raw_invoice(id=3), "garbage", None]
    page = map_invoices(raws)
    assert [row.invoice_number for row in page.rows] == ["1", "3"]
    assert page.rejects == [
        Reject("2", "total: not a number ('abc'); active: not a boolean ('yes')", bad),
        Reject(None, "id: required", missing_id),
        Reject(None, "record is not an object ('garbage')", "garbage"),
        Reject(None, "record is not an object (None)", None),
    ]
    assert page.rejects[0].raw is bad  # the record exactly as received
    assert_accounted_for(page)


def test_records_with_unreadable_ids_are_never_merged(raw_contact):
    raws = [raw_contact(id="x"), raw_contact(id="x"), raw_contact(id=-1), raw_contact(id=-1)]
    page = map_contacts(raws)
    assert (page.rejected, page.superseded) == (4, 0)
    assert [reject.record_id for reject in page.rejects] == ["x", "x", "-1", "-1"]


def test_validation_failures_of_optional_columns_are_warnings_not_rejects(raw_customer):
    raws = [raw_customer(id=1, mergedToId=1), raw_customer(id=2, name="a\x00")]
    page = map_customers(raws)
    assert page.rejects == []
    assert [(row.customer_id, row.merged_to_id, row.customer_name) for row in page.rows] == [
        ("1", None, "Smith, John"),
        ("2", None, None),
    ]
    assert [(w.record_id, w.column, w.reason) for w in page.warnings] == [
        ("1", "merged_to_id", "equals the customer's own id ('1')"),
        ("2", "customer_name", "contains a NUL character"),
        ("2", "customer_last_name", "contains a NUL character"),
    ]


def test_validation_failures_of_essential_columns_are_rejects_with_the_row_reason(
    raw_customer,
):
    raws = [raw_customer(id=1, createdOn="1850-01-01T00:00:00Z", name="a\x00")]
    page = map_customers(raws)
    assert page.rows == [] and page.warnings == []
    assert [(reject.record_id, reject.reason) for reject in page.rejects] == [
        (
            "1",
            "customer_name: contains a NUL character; customer_last_name: contains a NUL "
            "character; source_created_at: year 1850 outside 1900-2200",
        ),
    ]


def test_a_contact_without_a_customer_is_rejected(raw_contact):
    page = map_contacts([raw_contact(customerId=None), raw_contact(id=2)])
    assert [row.contact_id for row in page.rows] == [2]
    assert [reject.reason for reject in page.rejects] == ["customer_id: required"]


def test_absurd_values_are_rejected_not_stored(raw_invoice):
    raws = [
        raw_invoice(id=1, total="1e40"),
        raw_invoice(id=2, dueDate="0001-01-01T00:00:00"),
        raw_invoice(id=3, customer={"id": 0, "name": "x"}),
        raw_invoice(id=4, dueDate="2301-01-01T00:00:00Z"),
    ]
    page = map_invoices(raws)
    assert [reject.reason for reject in page.rejects] == [
        "total: out of range (1E+40)",
        "customer_id: not a positive id ('0')",
    ]
    assert [(row.invoice_number, row.due_date) for row in page.rows] == [("2", None), ("4", None)]
    assert [(w.record_id, w.column, w.value, w.reason) for w in page.warnings] == [
        ("4", "due_date", "2301-01-01", "year 2301 outside 1900-2200")
    ]


def test_fields_nobody_stores_cannot_reject_a_record(raw_invoice):
    raw = raw_invoice(items=[{"id": "?"}], royalty={"date": "soon"}, summary=42, batch="b")
    page = map_invoices([raw])
    assert page.mapped == 1
    assert page.rejects == []


def test_customer_types_decide_invoice_name_splits(raw_invoice):
    raws = [
        raw_invoice(id=1, customer={"id": 10, "name": "John Smith"}),
        raw_invoice(id=2, customer={"id": 20, "name": "John Smith"}),
        raw_invoice(id=3, customer={"id": 30, "name": "Lakeside Apartments"}),
    ]
    page = map_invoices(raws, {10: "Commercial", 30: "Residential"})
    assert [(row.customer_first_name, row.customer_last_name) for row in page.rows] == [
        (None, None),
        ("John", "Smith"),  # unknown customer: the heuristic
        ("Lakeside", "Apartments"),  # residential per ServiceTitan
    ]


def test_customer_types_apply_on_the_model_path_too(raw_invoice):
    """A record the fast path declines (an int subclass id here) still gets its known type."""

    class Id(int):
        pass

    raws = [raw_invoice(id=1, customer={"id": Id(10), "name": "John Smith"})]
    page = map_invoices(raws, {10: "Commercial"})
    assert page.rows[0].customer_first_name is None


def test_a_bug_in_a_map_becomes_a_reject_not_a_stalled_sync(raw_customer, monkeypatch):
    calls = 0

    def exploding(raw: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if raw["id"] == 2:
            raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "map_raw_customer", exploding)
    page = map_customers([raw_customer(id=1), raw_customer(id=2), raw_customer(id=3)])
    assert [row.customer_id for row in page.rows] == ["1", "3"]  # via the model path
    assert [(reject.record_id, reject.reason) for reject in page.rejects] == [
        ("2", "could not be mapped: RuntimeError: boom")
    ]
    assert calls == 3


@pytest.mark.parametrize(
    ("map_page", "fixture"),
    [(map_invoices, "raw_invoice"), (map_customers, "raw_customer"), (map_contacts, "raw_contact")],
)
def test_every_record_is_a_row_a_reject_or_superseded(map_page, fixture, request):
    make = request.getfixturevalue(fixture)
    raws: list[Any] = []
    for i in range(1, 200):
        raw = make(id=i % 37 + 1)
        if i % 5 == 0:
            raw["modifiedOn"] = "not a time"
        if i % 11 == 0:
            raw = [raw]
        raws.append(raw)
    page = map_page(raws)
    assert_accounted_for(page)
    assert page.mapped > 0
    assert page.rejected > 0
    assert page.superseded > 0
    keys = [row.key for row in page.rows]
    assert len(keys) == len(set(keys))


def test_huge_numbers_are_rejected_without_breaking_the_page(raw_invoice):
    """Python's json (unlike orjson) accepts integers of any size; str() fails past 4300 digits."""
    huge = 10**5000
    raws = [
        raw_invoice(id=huge),
        raw_invoice(id=2, total=huge),
        raw_invoice(id=3, customer={"id": huge, "name": "x"}),
        raw_invoice(id=4, total=1e308),
        raw_invoice(id=5),
    ]
    page = map_invoices(raws)
    assert [row.invoice_number for row in page.rows] == ["5"]
    assert [(reject.record_id, reject.reason) for reject in page.rejects] == [
        (None, "id: out of the 64-bit integer range (<int too long to show>)"),
        ("2", "total: out of range (1" + "0" * 38 + "…)"),
        ("3", "customer.id: out of the 64-bit integer range (<int too long to show>)"),
        ("4", "total: out of range (1E+308)"),
    ]
