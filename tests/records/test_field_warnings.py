"""Bad records and bad fields: what rejects a record, what only nulls a field (issue 21).

Essential fields (ids, createdOn/modifiedOn, an invoice's money) reject; any other invalid field
is stored as NULL with one warning; .NET's "no date" in a nullable date is NULL silently.
"""

from __future__ import annotations

from datetime import date

import pytest

from records.no_date import business_date, is_no_date
from records.pipeline import map_contacts, map_customers, map_invoices, shown_value
from records.prepared import prepare_page
from servicetitan.models import parse_timestamp

SENTINELS = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00.0000000Z",
    "0001-01-01T00:00:00.000+00:00",
]


@pytest.mark.parametrize("text", SENTINELS)
def test_every_spelling_of_the_dotnet_no_date_is_recognised(text):
    assert is_no_date(parse_timestamp(text))
    assert business_date(parse_timestamp(text)) is None


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:01Z", "0001-01-02T00:00:00Z", "0001-01-01T00:00:00+05:00"]
)
def test_other_year_one_moments_are_not_the_sentinel(text):
    assert not is_no_date(parse_timestamp(text))
    assert business_date(parse_timestamp(text)) == parse_timestamp(text).date()


@pytest.mark.parametrize("text", SENTINELS)
def test_the_sentinel_in_a_nullable_date_is_null_without_a_warning(raw_invoice, text):
    page = map_invoices([raw_invoice(id=1, dueDate=text, invoiceDate=text)])
    assert page.rejects == [] and page.warnings == []
    assert (page.rows[0].due_date, page.rows[0].invoice_date) == (None, None)


@pytest.mark.parametrize("text", SENTINELS)
def test_the_sentinel_in_created_on_rejects(raw_invoice, raw_customer, text):
    invoices = map_invoices([raw_invoice(id=1, createdOn=text)])
    customers = map_customers([raw_customer(id=1, createdOn=text)])
    for page in (invoices, customers):
        assert page.rows == [] and page.warnings == []
        assert [r.reason for r in page.rejects] == [
            'source_created_at: .NET "no date" (0001-01-01T00:00:00) in a required date'
        ]


def test_an_out_of_range_optional_date_is_null_with_one_warning(raw_invoice):
    page = map_invoices([raw_invoice(id=7, dueDate="1850-03-04T00:00:00Z")])
    assert page.rejects == []
    assert page.rows[0].due_date is None and page.rows[0].invoice_date is not None
    assert [(w.record_id, w.column, w.value, w.reason) for w in page.warnings] == [
        ("7", "due_date", "1850-03-04", "year 1850 outside 1900-2200")
    ]


def test_an_unparsable_optional_field_is_null_with_a_warning(raw_invoice):
    raw = raw_invoice(id=8, dueDate="next week", referenceNumber=12, job={"number": 5})
    page = map_invoices([raw])
    assert page.rejects == []
    row = page.rows[0]
    assert (row.due_date, row.reference_number, row.job_number) == (None, None, None)
    assert row.total is not None and row.customer_name is not None
    assert sorted((w.column, w.value, w.reason) for w in page.warnings) == [
        ("due_date", "next week", "not a timestamp"),
        ("job_number", "5", "not a string"),
        ("reference_number", "12", "not a string"),
    ]
    assert raw["dueDate"] == "next week", "the raw record is not changed"


@pytest.mark.parametrize(
    ("overrides", "reason_start"),
    [
        ({"total": "abc"}, "total: not a number"),
        ({"subTotal": "1e40"}, "subtotal: out of range"),
        ({"balance": "0.00001"}, "balance: more than 4 decimal places"),
        ({"id": "12"}, "id:"),
        ({"customer": {"id": "x", "name": "n"}}, "customer.id:"),
        ({"customer": 5}, "customer:"),
        ({"modifiedOn": "yesterday"}, "modifiedOn: not a timestamp"),
        ({"createdOn": "2301-01-01T00:00:00Z"}, "source_created_at: year 2301"),
    ],
)
def test_unusable_ids_money_and_stamps_reject_the_invoice(raw_invoice, overrides, reason_start):
    raw = raw_invoice(**{"id": 9, "dueDate": "bad", **overrides})
    page = map_invoices([raw])
    assert page.rows == [] and page.warnings == []
    assert reason_start in page.rejects[0].reason, page.rejects[0].reason
    assert page.rejects[0].raw is raw


def test_customers_and_contacts_warn_on_optional_fields(raw_customer, raw_contact):
    customers = map_customers(
        [raw_customer(id=1, type=3, address={"zip": 77, "city": "Austin"}, doNotMail="yes")]
    )
    assert customers.rejects == []
    row = customers.rows[0]
    assert (row.customer_type, row.customer_zip, row.customer_city, row.do_not_mail) == (
        None,
        None,
        "Austin",
        None,
    )
    assert sorted(w.column for w in customers.warnings) == [
        "customer_type",
        "customer_zip",
        "do_not_mail",
    ]
    contacts = map_contacts([raw_contact(id=1, value="x" * 300), raw_contact(id=2, customerId="c")])
    assert [row.contact_id for row in contacts.rows] == [1]
    assert contacts.rows[0].value is None
    assert [(w.column, w.value) for w in contacts.warnings] == [("value", "xxxxxxxxxx...")]
    assert [r.record_id for r in contacts.rejects] == ["2"]


def test_warnings_show_only_an_ascii_prefix_of_the_value():
    assert shown_value("Jane Doe-Smith, 12 Elm Street") == "Jane Doe-S..."
    assert shown_value("a\x00b\ud800") == "a\\x00b\\ud800"
    assert shown_value(None) == "null"
    assert shown_value(date(1850, 1, 2)) == "1850-01-02"


def test_a_prepared_page_carries_the_warnings(raw_invoice):
    import json

    raws = [raw_invoice(id=1, dueDate="1850-01-01T00:00:00Z"), raw_invoice(id=2, total="x")]
    body = json.dumps({"hasMore": False, "continueFrom": "c", "data": raws}).encode()
    prepared = prepare_page("invoices", body, None, prefix=(), batch_size=100)
    assert (prepared.mapped, prepared.rejected) == (1, 1)
    assert [(w.record_id, w.column) for w in prepared.warnings] == [("1", "due_date")]
