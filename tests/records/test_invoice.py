"""map_invoice: the invoices_stream columns from one export invoice."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from records.invoice import INVOICE_COLUMNS, InvoiceRecord, map_invoice, map_raw_invoice
from servicetitan.models import InvoiceMappedFields

CONTRACT_INVOICE_COLUMNS = (
    "invoice_number",
    "reference_number",
    "customer_id",
    "customer_name",
    "customer_first_name",
    "customer_last_name",
    "customer_address",
    "customer_city",
    "customer_state",
    "customer_zip",
    "job_number",
    "job_type",
    "business_unit",
    "invoice_date",
    "due_date",
    "subtotal",
    "sales_tax",
    "total",
    "balance",
    "active",
    "source_created_at",
    "source_modified_at",
)


def _map(raw: dict[str, Any], customer_type: str | None = None) -> InvoiceRecord:
    return map_invoice(InvoiceMappedFields.model_validate(raw), customer_type)


def test_columns_are_the_architecture_columns_in_table_order():
    assert INVOICE_COLUMNS == CONTRACT_INVOICE_COLUMNS
    assert InvoiceRecord.COLUMNS == INVOICE_COLUMNS
    assert tuple(field.name for field in dataclasses.fields(InvoiceRecord)) == INVOICE_COLUMNS


def test_a_complete_invoice_maps_every_column(raw_invoice):
    record = _map(raw_invoice())
    assert record == InvoiceRecord(
        invoice_number="24681357",
        reference_number="1676",
        customer_id="998877",
        customer_name="Smith, John",
        customer_first_name="John",
        customer_last_name="Smith",
        customer_address="1 Main St",
        customer_city="Austin",
        customer_state="TX",
        customer_zip="78701",
        job_number="J-55",
        job_type="Repair",
        business_unit="HVAC Service",
        invoice_date=date(2021, 7, 19),
        due_date=date(2021, 8, 18),
        subtotal=Decimal("100.00"),
        sales_tax=Decimal("8.25"),
        total=Decimal("108.25"),
        balance=Decimal("0.00"),
        active=True,
        source_created_at=datetime(2021, 7, 19, 20, 30, 0, 123456, tzinfo=UTC),
        source_modified_at=datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC),
    )


def test_as_tuple_follows_columns(raw_invoice):
    record = _map(raw_invoice())
    assert record.as_tuple() == tuple(getattr(record, column) for column in INVOICE_COLUMNS)
    assert record.key == "24681357"


def test_nulls_everywhere_map_to_nulls():
    record = _map({"id": 7})
    assert record.invoice_number == "7"
    assert all(getattr(record, column) is None for column in INVOICE_COLUMNS[1:])


@pytest.mark.parametrize("field", ["customer", "customerAddress", "job", "businessUnit"])
def test_null_nested_objects_map_to_null_columns(field, raw_invoice):
    record = _map(raw_invoice(**{field: None}))
    columns = {
        "customer": ["customer_id", "customer_name", "customer_first_name", "customer_last_name"],
        "customerAddress": ["customer_address", "customer_city", "customer_state", "customer_zip"],
        "job": ["job_number", "job_type"],
        "businessUnit": ["business_unit"],
    }[field]
    assert [getattr(record, column) for column in columns] == [None] * len(columns)


def test_dates_are_the_calendar_date_as_written(raw_invoice):
    """23:00 at -05:00 on the 18th is the 19th in UTC, but the invoice says the 18th."""
    record = _map(raw_invoice(invoiceDate="2021-07-18T23:00:00-05:00", dueDate="2021-08-01"))
    assert record.invoice_date == date(2021, 7, 18)
    assert record.due_date == date(2021, 8, 1)


def test_state_and_zip_are_trimmed_and_blank_is_null(raw_invoice):
    address = {"street": "  1 Main St ", "city": " Austin", "state": " TX ", "zip": "   "}
    record = _map(raw_invoice(customerAddress=address))
    assert (record.customer_state, record.customer_zip) == ("TX", None)
    # everything else is kept as sent
    assert (record.customer_address, record.customer_city) == ("  1 Main St ", " Austin")


def test_customer_name_is_kept_as_sent_and_split_when_it_looks_like_a_person(raw_invoice):
    record = _map(raw_invoice(customer={"id": 1, "name": "  Smith,  John "}))
    assert record.customer_name == "  Smith,  John "
    assert (record.customer_first_name, record.customer_last_name) == ("John", "Smith")
    record = _map(raw_invoice(customer={"id": 1, "name": "ABC Plumbing LLC"}))
    assert (record.customer_first_name, record.customer_last_name) == (None, None)


def test_a_known_customer_type_decides_the_split(raw_invoice):
    raw = raw_invoice(customer={"id": 1, "name": "John Smith"})
    assert _map(raw, "Commercial").customer_first_name is None
    assert _map(raw, "Residential").customer_first_name == "John"


def test_the_fast_path_uses_customer_types_by_customer_id(raw_invoice):
    raw = raw_invoice(customer={"id": 1, "name": "John Smith"})
    record = map_raw_invoice(raw, {1: "Commercial"})
    assert record is not None
    assert record.customer_first_name is None
    record = map_raw_invoice(raw, {2: "Commercial"})
    assert record is not None
    assert record.customer_first_name == "John"


def test_negative_and_zero_money_is_kept(raw_invoice):
    record = _map(raw_invoice(total="-25.50", balance="0", subTotal="-0.00"))
    assert (record.total, record.balance, record.subtotal) == (
        Decimal("-25.50"),
        Decimal("0"),
        Decimal("-0.00"),
    )
