"""The field rules of records/validation.py: every rule, on each record type.

The valid records are the maps of the complete export records of conftest.py, so a complete
export record is also shown to map to a storable row.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, get_args, get_type_hints

import pytest

from records.contact import ContactRecord, map_contact
from records.invoice import InvoiceRecord, map_invoice
from records.member import MemberRecord, map_customer
from records.validation import (
    TEXT_LIMITS,
    contact_column_problems,
    invoice_column_problems,
    member_column_problems,
)
from servicetitan.models import ContactMappedFields, CustomerMappedFields, InvoiceMappedFields
from tests.records.conftest import CONTACT, CUSTOMER, INVOICE


def invoice_problems(record: InvoiceRecord) -> list[str]:
    """Every rule an invoice row breaks, as ``"column: reason"`` texts."""
    return [problem.text for problem in invoice_column_problems(record)]


def member_problems(record: MemberRecord) -> list[str]:
    return [problem.text for problem in member_column_problems(record)]


def contact_problems(record: ContactRecord) -> list[str]:
    return [problem.text for problem in contact_column_problems(record)]


VALID_INVOICE = map_invoice(InvoiceMappedFields.model_validate(INVOICE))
VALID_MEMBER = map_customer(CustomerMappedFields.model_validate(CUSTOMER))
VALID_CONTACT = map_contact(ContactMappedFields.model_validate(CONTACT))
CUSTOMER_ID = VALID_MEMBER.customer_id


def invoice(**changes: Any) -> InvoiceRecord:
    return dataclasses.replace(VALID_INVOICE, **changes)


def member(**changes: Any) -> MemberRecord:
    return dataclasses.replace(VALID_MEMBER, **changes)


def contact(**changes: Any) -> ContactRecord:
    return dataclasses.replace(VALID_CONTACT, **changes)


def test_mapped_complete_records_have_no_problems():
    assert invoice_problems(invoice()) == []
    assert member_problems(member()) == []
    assert contact_problems(contact()) == []


def test_all_nulls_are_valid():
    assert invoice_problems(invoice(**dict.fromkeys(InvoiceRecord.COLUMNS[1:]))) == []
    assert member_problems(member(**dict.fromkeys(MemberRecord.COLUMNS[1:]))) == []


# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column", ["customer_name", "customer_city", "job_type", "reference_number"]
)
def test_nul_characters_are_rejected(column):
    problems = invoice_problems(invoice(**{column: "a\x00b"}))
    assert problems == [f"{column}: contains a NUL character"]


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "x\udc00y"])
def test_unpaired_surrogates_are_rejected(surrogate):
    problems = member_problems(member(customer_name=surrogate))
    assert len(problems) == 1
    assert problems[0].startswith("customer_name: contains an unpaired surrogate (U+D")


def test_other_unicode_and_control_characters_are_fine():
    name = "Zoë 😀 O’Brien\t\u200b"
    assert member_problems(member(customer_name=name, customer_last_name="\x01")) == []


def test_contact_values_are_checked_too():
    assert contact_problems(contact(value="a\x00")) == ["value: contains a NUL character"]


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
    assert invoice_problems(invoice(**{column: "x" * limit})) == []
    assert invoice_problems(invoice(**{column: "x" * (limit + 1)})) == [
        f"{column}: {limit + 1} characters, limit {limit}"
    ]


def test_length_counts_characters_not_bytes():
    assert invoice_problems(invoice(customer_zip="é" * 20)) == []


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
    assert invoice_problems(invoice(total=Decimal(amount))) == []


@pytest.mark.parametrize("amount", ["1e13", "-1e13", "1e40", "10000000000000.00"])
def test_absurd_money_is_rejected(amount):
    assert invoice_problems(invoice(balance=Decimal(amount))) == [
        f"balance: out of range ({Decimal(amount)})"
    ]


@pytest.mark.parametrize("amount", ["0.00001", "1.23456", "-5.000010", "1E-5"])
def test_more_than_four_decimal_places_are_rejected(amount):
    assert member_problems(member(balance=Decimal(amount))) == [
        f"balance: more than 4 decimal places ({Decimal(amount)})"
    ]


def test_precision_is_judged_exactly_not_in_the_decimal_context():
    """30 decimal places must not be rounded away by the 28-digit context before judging."""
    amount = Decimal("1.000000000000000000000000000001")
    assert invoice_problems(invoice(total=amount)) == [
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
    assert invoice_problems(invoice(**changes)) == [problem]


def test_boundary_years_are_fine():
    record = invoice(invoice_date=date(1900, 1, 1), due_date=date(2200, 12, 31))
    assert invoice_problems(record) == []


def test_contact_and_member_timestamps_are_checked():
    old = datetime(1800, 1, 1, tzinfo=UTC)
    assert contact_problems(contact(source_modified_at=old)) == [
        "source_modified_at: year 1800 outside 1900-2200"
    ]
    assert member_problems(member(source_created_at=old)) == [
        "source_created_at: year 1800 outside 1900-2200"
    ]


# --- ids and record rules ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-7", "007", "abc", "", "٣"])
def test_invoice_customer_id_must_be_positive(value):
    assert invoice_problems(invoice(customer_id=value)) == [
        f"customer_id: not a positive id ({value!r})"
    ]


def test_invoice_number_must_be_positive():
    assert invoice_problems(invoice(invoice_number="0")) == [
        "invoice_number: not a positive id ('0')"
    ]


def test_member_ids_must_be_positive():
    assert member_problems(member(customer_id="-1", merged_to_id="0")) == [
        "customer_id: not a positive id ('-1')",
        "merged_to_id: not a positive id ('0')",
    ]


def test_a_customer_cannot_be_merged_into_itself():
    assert member_problems(member(merged_to_id=CUSTOMER_ID)) == [
        f"merged_to_id: equals the customer's own id ({CUSTOMER_ID!r})"
    ]
    assert member_problems(member(merged_to_id="8")) == []


def test_a_contact_needs_a_positive_customer():
    assert contact_problems(contact(customer_id=None)) == ["customer_id: required"]
    assert contact_problems(contact(customer_id="0")) == ["customer_id: not a positive id ('0')"]
    assert contact_problems(contact(contact_id=0)) == ["contact_id: not a positive id (0)"]


def test_several_problems_are_all_reported():
    record = invoice(customer_name="\x00", customer_zip="1" * 30, total=Decimal("0.123456"))
    assert invoice_problems(record) == [
        "customer_zip: 30 characters, limit 20",
        "customer_name: contains a NUL character",
        "total: more than 4 decimal places (0.123456)",
    ]
