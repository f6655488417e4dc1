"""validate_field_values: every rule, on each record type."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, get_args, get_type_hints

import pytest

from records.contact import ContactRecord
from records.invoice import InvoiceRecord
from records.member import MemberRecord
from records.validation import (
    TEXT_LIMITS,
    InvalidRecord,
    field_problems,
    validate_field_values,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def invoice(**changes: Any) -> InvoiceRecord:
    record = InvoiceRecord(
        invoice_number="101",
        reference_number="R-101",
        customer_id="7",
        customer_name="Smith, John",
        customer_first_name="John",
        customer_last_name="Smith",
        customer_address="1 Main St",
        customer_city="Austin",
        customer_state="TX",
        customer_zip="78701",
        job_number="55",
        job_type="Repair",
        business_unit="HVAC",
        invoice_date=date(2024, 5, 6),
        due_date=date(2024, 6, 5),
        subtotal=Decimal("100.00"),
        sales_tax=Decimal("8.25"),
        total=Decimal("108.25"),
        balance=Decimal("0.00"),
        active=True,
        source_created_at=NOW,
        source_modified_at=NOW,
    )
    return dataclasses.replace(record, **changes)


def member(**changes: Any) -> MemberRecord:
    record = MemberRecord(
        customer_id="7",
        customer_name="Smith, John",
        customer_type="Residential",
        customer_first_name="John",
        customer_last_name="Smith",
        customer_address="1 Main St",
        customer_city="Austin",
        customer_state="TX",
        customer_zip="78701",
        active_member=True,
        merged_to_id=None,
        do_not_mail=False,
        do_not_service=False,
        balance=Decimal("12.34"),
        source_created_at=NOW,
        source_modified_at=NOW,
    )
    return dataclasses.replace(record, **changes)


def contact(**changes: Any) -> ContactRecord:
    record = ContactRecord(
        contact_id=9,
        customer_id="7",
        type="Email",
        value="john@example.com",
        active=True,
        source_modified_at=NOW,
    )
    return dataclasses.replace(record, **changes)


@pytest.mark.parametrize("record", [invoice(), member(), contact()])
def test_valid_records_have_no_problems(record):
    assert field_problems(record) == []
    validate_field_values(record)


def test_all_nulls_are_valid():
    assert field_problems(invoice(**dict.fromkeys(InvoiceRecord.COLUMNS[1:]))) == []
    assert field_problems(member(**dict.fromkeys(MemberRecord.COLUMNS[1:]))) == []


def test_validate_field_values_raises_with_every_problem():
    with pytest.raises(InvalidRecord) as raised:
        validate_field_values(invoice(customer_zip="x" * 21, total=Decimal("1e13")))
    assert raised.value.problems == [
        "customer_zip: 21 characters, limit 20",
        "total: out of range (1E+13)",
    ]
    assert str(raised.value) == "customer_zip: 21 characters, limit 20; total: out of range (1E+13)"


# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column", ["customer_name", "customer_city", "job_type", "reference_number"]
)
def test_nul_characters_are_rejected(column):
    assert field_problems(invoice(**{column: "a\x00b"})) == [f"{column}: contains a NUL character"]


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "x\udc00y"])
def test_unpaired_surrogates_are_rejected(surrogate):
    problems = field_problems(member(customer_name=surrogate))
    assert len(problems) == 1
    assert problems[0].startswith("customer_name: contains an unpaired surrogate (U+D")


def test_other_unicode_and_control_characters_are_fine():
    name = "Zoë 😀 O’Brien\t\u200b"
    assert field_problems(member(customer_name=name, customer_last_name="\x01")) == []


def test_contact_values_are_checked_too():
    assert field_problems(contact(value="a\x00")) == ["value: contains a NUL character"]


@pytest.mark.parametrize(
    ("column", "limit"),
    [
        ("customer_name", 500),
        ("customer_address", 500),
        ("customer_city", 255),
        ("customer_state", 100),
        ("customer_zip", 20),
        ("reference_number", 255),
        ("business_unit", 255),
    ],
)
def test_text_longer_than_its_column_limit_is_rejected(column, limit):
    assert field_problems(invoice(**{column: "x" * limit})) == []
    assert field_problems(invoice(**{column: "x" * (limit + 1)})) == [
        f"{column}: {limit + 1} characters, limit {limit}"
    ]


def test_length_counts_characters_not_bytes():
    assert field_problems(invoice(customer_zip="é" * 20)) == []


def test_every_text_column_has_a_limit():
    for record_type in (InvoiceRecord, MemberRecord, ContactRecord):
        hints = get_type_hints(record_type)
        for column in record_type.COLUMNS:
            if str in (hints[column], *get_args(hints[column])):
                assert column in TEXT_LIMITS, f"{record_type.__name__}.{column}"


def test_text_limits_fit_the_database_columns():
    """A value that passes validation must fit its column, or the whole page would fail."""
    from db.schema import CustomerContact, InvoiceStream, MemberStream

    pairs: list[tuple[Any, type[InvoiceRecord | MemberRecord | ContactRecord]]] = [
        (InvoiceStream, InvoiceRecord),
        (MemberStream, MemberRecord),
        (CustomerContact, ContactRecord),
    ]
    for table, record_type in pairs:
        for column in record_type.COLUMNS:
            length = getattr(table.__table__.c[column].type, "length", None)
            if column in TEXT_LIMITS and length is not None:
                assert TEXT_LIMITS[column] <= length, f"{table.__tablename__}.{column}"
    columns: Any = MemberStream.__table__.c
    phone = columns["customer_phone_number_primary"].type.length
    email = columns["customer_email"].type.length
    assert TEXT_LIMITS["value"] <= min(phone, email)


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        "0",
        "0.00",
        "-0.00",
        "9999999999999.9999",
        "-9999999999999.9999",
        "1.5000000",
        "1E+5",
        "12.3456",
    ],
)
def test_money_within_range_and_precision_is_fine(amount):
    assert field_problems(invoice(total=Decimal(amount))) == []


@pytest.mark.parametrize("amount", ["1e13", "-1e13", "1e40", "10000000000000.00"])
def test_absurd_money_is_rejected(amount):
    assert field_problems(invoice(balance=Decimal(amount))) == [
        f"balance: out of range ({Decimal(amount)})"
    ]


@pytest.mark.parametrize("amount", ["0.00001", "1.23456", "-5.000010", "1E-5"])
def test_more_than_four_decimal_places_are_rejected(amount):
    assert field_problems(member(balance=Decimal(amount))) == [
        f"balance: more than 4 decimal places ({Decimal(amount)})"
    ]


def test_precision_is_judged_exactly_not_in_the_decimal_context():
    """30 decimal places must not be rounded away by the 28-digit context before judging."""
    amount = Decimal("1.000000000000000000000000000001")
    assert field_problems(invoice(total=amount)) == [
        f"total: more than 4 decimal places ({amount})"
    ]


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"invoice_date": date(1899, 12, 31)}, "invoice_date: year 1899 outside 1900-2200"),
        ({"due_date": date(1, 1, 1)}, "due_date: year 1 outside 1900-2200"),
        (
            {"source_created_at": datetime(2201, 1, 1, tzinfo=UTC)},
            "source_created_at: year 2201 outside 1900-2200",
        ),
        (
            {"source_modified_at": datetime(9999, 12, 31, tzinfo=UTC)},
            "source_modified_at: year 9999 outside 1900-2200",
        ),
    ],
)
def test_dates_outside_the_plausible_range_are_rejected(changes, problem):
    assert field_problems(invoice(**changes)) == [problem]


def test_boundary_years_are_fine():
    assert field_problems(invoice(invoice_date=date(1900, 1, 1), due_date=date(2200, 12, 31))) == []


def test_contact_and_member_timestamps_are_checked():
    old = datetime(1800, 1, 1, tzinfo=UTC)
    assert field_problems(contact(source_modified_at=old)) == [
        "source_modified_at: year 1800 outside 1900-2200"
    ]
    assert field_problems(member(source_created_at=old)) == [
        "source_created_at: year 1800 outside 1900-2200"
    ]


# --- ids and record rules ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-7", "007", "abc", "", "٣"])
def test_invoice_customer_id_must_be_positive(value):
    assert field_problems(invoice(customer_id=value)) == [
        f"customer_id: not a positive id ({value!r})"
    ]


def test_invoice_number_must_be_positive():
    assert field_problems(invoice(invoice_number="0")) == [
        "invoice_number: not a positive id ('0')"
    ]


def test_member_ids_must_be_positive():
    assert field_problems(member(customer_id="-1", merged_to_id="0")) == [
        "customer_id: not a positive id ('-1')",
        "merged_to_id: not a positive id ('0')",
    ]


def test_a_customer_cannot_be_merged_into_itself():
    assert field_problems(member(merged_to_id="7")) == [
        "merged_to_id: equals the customer's own id ('7')"
    ]
    assert field_problems(member(merged_to_id="8")) == []


def test_a_contact_needs_a_positive_customer():
    assert field_problems(contact(customer_id=None)) == ["customer_id: required"]
    assert field_problems(contact(customer_id="0")) == ["customer_id: not a positive id ('0')"]
    assert field_problems(contact(contact_id=0)) == ["contact_id: not a positive id (0)"]


def test_several_problems_are_all_reported():
    record = invoice(customer_name="\x00", customer_zip="1" * 30, total=Decimal("0.123456"))
    assert field_problems(record) == [
        "customer_zip: 30 characters, limit 20",
        "customer_name: contains a NUL character",
        "total: more than 4 decimal places (0.123456)",
    ]
