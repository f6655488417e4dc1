"""Record models: money, timestamps, ids, nulls, unknown enums, extras and readable problems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from servicetitan.models import (
    INT64_MAX,
    ContactMappedFields,
    CustomerMappedFields,
    CustomerType,
    InvoiceMappedFields,
    RecordProblem,
    parse_decimal,
    parse_record,
    parse_timestamp,
)
from tests.records.export_models import (
    ExportCustomer,
    ExportCustomerContact,
    ExportInvoice,
    InvoiceItem,
)

# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("123.45", Decimal("123.45")),
        ("0.00", Decimal("0.00")),
        ("-42.10", Decimal("-42.10")),
        ("1234.5", Decimal("1234.5")),
        ("1e40", Decimal("1e40")),  # a number; validation rejects its size, not the parser
        ("+5", Decimal("5")),
        (12.34, Decimal("12.34")),  # a JSON number: via str(), no float artefacts
        (0.1, Decimal("0.1")),
        (7, Decimal("7")),
        (Decimal("1.50"), Decimal("1.50")),
    ],
)
def test_money_parses_exactly(sent, expected):
    parsed = parse_decimal(sent)
    assert parsed == expected
    assert str(parsed) == str(expected)  # same digits and exponent, not just equal


@pytest.mark.parametrize(
    "sent",
    ["abc", "", " 12.5", "12.5 ", "1_000", "NaN", "nan", "Infinity", "-inf", "sNaN", "١٢٣", "0x10"],
)
def test_money_rejects_text_that_is_not_a_plain_number(sent):
    with pytest.raises(ValueError, match="not a"):
        parse_decimal(sent)


@pytest.mark.parametrize("sent", [True, False, [], {}, float("nan"), float("inf"), Decimal("NaN")])
def test_money_rejects_other_json_values(sent):
    with pytest.raises(ValueError, match="not a"):
        parse_decimal(sent)


def test_invoice_money_none_stays_none(raw_invoice):
    invoice = ExportInvoice.model_validate(raw_invoice(subTotal=None, total=None, balance=None))
    assert (invoice.sub_total, invoice.total, invoice.balance) == (None, None, None)


def test_customer_balance_number_has_no_float_artefacts(raw_customer):
    customer = ExportCustomer.model_validate(raw_customer(balance=0.1 + 0.2))
    assert customer.balance == Decimal("0.30000000000000004")  # what the float really is
    customer = ExportCustomer.model_validate(raw_customer(balance=1234.56))
    assert str(customer.balance) == "1234.56"


# --- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2021-07-19T20:35:38.2876004Z", datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC)),
        ("2021-07-19T20:35:38.9999999Z", datetime(2021, 7, 19, 20, 35, 38, 999999, tzinfo=UTC)),
        ("2021-07-19T20:35:38Z", datetime(2021, 7, 19, 20, 35, 38, tzinfo=UTC)),
        ("2021-07-19T00:00:00", datetime(2021, 7, 19, tzinfo=UTC)),  # naive means UTC
        ("2025-10-13T00:00:00.1234567", datetime(2025, 10, 13, 0, 0, 0, 123456, tzinfo=UTC)),
        (
            "2021-07-19T20:35:38.1234567-05:00",
            datetime(2021, 7, 19, 20, 35, 38, 123456, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("2021-07-19", datetime(2021, 7, 19, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_and_truncate_to_microseconds(sent, expected):
    parsed = parse_timestamp(sent)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()  # the offset as sent is kept


def test_seven_digit_fractions_truncate_never_round_up():
    """Rounding .9999999 up would move the instant into the next second (past the record)."""
    parsed = parse_timestamp("2021-12-31T23:59:59.9999999Z")
    assert parsed.year == 2021
    assert parsed.microsecond == 999_999


@pytest.mark.parametrize(
    "sent",
    ["garbage", "", "2021-13-01T00:00:00Z", "2021-07-19T25:00:00Z", " 2021-07-19T00:00:00Z"],
)
def test_timestamps_reject_invalid_text(sent):
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp(sent)


@pytest.mark.parametrize("sent", [1626726938, 1626726938.5, True, None, ["2021-07-19"]])
def test_timestamps_reject_non_strings(sent):
    """Epoch numbers are not what the API sends; accepting them would hide a format change."""
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp(sent)


# --- ids, types, nulls -------------------------------------------------------------------------


@pytest.mark.parametrize("model", [ExportInvoice, ExportCustomer, ExportCustomerContact])
def test_a_record_with_only_an_id_is_valid(model):
    """Every field but the id may be missing or null."""
    record = model.model_validate({"id": 1})
    assert record.id == 1


@pytest.mark.parametrize("model", [ExportInvoice, ExportCustomer, ExportCustomerContact])
def test_every_field_may_be_null(model):
    aliases = [field.alias or name for name, field in model.model_fields.items() if name != "id"]
    record = model.model_validate({"id": 1, **dict.fromkeys(aliases)})
    assert all(getattr(record, name) is None for name in model.model_fields if name != "id")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "id: must be positive (0)"),
        (-5, "id: must be positive (-5)"),
        (INT64_MAX + 1, "id: out of the 64-bit integer range (9223372036854775808)"),
        ("5", "id: not an integer ('5')"),
        (True, "id: not an integer (True)"),
        (5.0, "id: not an integer (5.0)"),
        (None, "id: not an integer (None)"),
    ],
)
def test_the_record_id_must_be_a_positive_int64(value, reason, raw_invoice):
    problem = parse_record(ExportInvoice, raw_invoice(id=value))
    assert isinstance(problem, RecordProblem)
    assert problem.reason == reason


def test_the_largest_int64_id_is_accepted(raw_invoice):
    invoice = parse_record(ExportInvoice, raw_invoice(id=INT64_MAX))
    assert isinstance(invoice, ExportInvoice)
    assert invoice.id == INT64_MAX


def test_types_are_strict(raw_invoice):
    problem = parse_record(ExportInvoice, raw_invoice(active="true"))
    assert isinstance(problem, RecordProblem)
    assert problem.reason == "active: not a boolean ('true')"
    problem = parse_record(ExportInvoice, raw_invoice(referenceNumber=1676))
    assert isinstance(problem, RecordProblem)
    assert problem.reason == "referenceNumber: not a string (1676)"


def test_unknown_enum_values_are_kept(raw_invoice, raw_customer, raw_contact):
    invoice = ExportInvoice.model_validate(
        raw_invoice(sentStatus="Bounced", reviewStatus="Escalated", invoiceConfiguration="Other")
    )
    assert (invoice.sent_status, invoice.review_status) == ("Bounced", "Escalated")
    assert invoice.invoice_configuration == "Other"
    assert ExportCustomer.model_validate(raw_customer(type="Government")).type == "Government"
    assert ExportCustomerContact.model_validate(raw_contact(type="Pager")).type == "Pager"


def test_known_enum_values_compare_as_strings(raw_customer):
    assert ExportCustomer.model_validate(raw_customer()).type == CustomerType.RESIDENTIAL


def test_fields_the_api_adds_later_are_kept(raw_invoice):
    invoice = ExportInvoice.model_validate(raw_invoice(shinyNewField={"a": 1}))
    assert invoice.model_extra == {"shinyNewField": {"a": 1}}


def test_invoice_lines_are_kept_as_sent_and_parse_on_demand(raw_invoice):
    raw = raw_invoice()
    invoice = ExportInvoice.model_validate(raw)
    assert invoice.items == raw["items"]
    line = parse_record(InvoiceItem, raw["items"][0])
    assert isinstance(line, InvoiceItem)
    assert line.price == Decimal("100.00")
    assert line.created_on == datetime(2021, 7, 19, 20, 30, 0, 123456, tzinfo=UTC)


def test_a_complete_record_parses_every_nested_object(raw_invoice, raw_customer, raw_contact):
    invoice = ExportInvoice.model_validate(raw_invoice())
    assert invoice.sales_tax_code is not None
    assert invoice.sales_tax_code.tax_rate == Decimal("0.0825")
    assert invoice.customer_address is not None
    assert invoice.customer_address.unit == "Apt 2"
    assert invoice.employee_info is not None
    assert invoice.employee_info.modified_on == datetime(2021, 7, 19, 20, 35, 38, 287600, UTC)
    customer = ExportCustomer.model_validate(raw_customer())
    assert customer.address is not None
    assert customer.address.latitude == pytest.approx(30.2672)
    assert customer.external_data is not None
    assert customer.external_data[0].value == "42"
    contact = ExportCustomerContact.model_validate(raw_contact())
    assert contact.phone_settings is not None
    assert contact.phone_settings.do_not_text is False


def test_models_are_immutable(raw_invoice):
    invoice = ExportInvoice.model_validate(raw_invoice())
    with pytest.raises(ValidationError):
        invoice.total = Decimal(1)  # type: ignore[misc]


# --- the mapped-fields models ------------------------------------------------------------------


def test_mapped_fields_ignore_what_is_not_stored(raw_invoice):
    """A malformed invoice line or royalty date does not reject the invoice for the pipeline."""
    raw = raw_invoice(items=[{"id": "not-a-number"}], royalty={"date": "garbage"}, projectId="x")
    assert isinstance(parse_record(ExportInvoice, raw), RecordProblem)
    invoice = parse_record(InvoiceMappedFields, raw)
    assert isinstance(invoice, InvoiceMappedFields)
    assert invoice.model_extra is None or invoice.model_extra == {}


def test_mapped_fields_read_wire_names_only(raw_invoice, raw_customer, raw_contact):
    """Only camelCase keys count, as in the fast path; the full models also take Python names."""
    raw = raw_invoice(subTotal=None, sub_total="5.00")
    mapped = InvoiceMappedFields.model_validate(raw)
    assert mapped.sub_total is None
    assert ExportInvoice(id=1, sub_total=Decimal(5)).sub_total == Decimal(5)
    assert CustomerMappedFields.model_validate(raw_customer(doNotMail=None, do_not_mail=True))
    contact = ContactMappedFields.model_validate(raw_contact(customerId=None, customer_id=5))
    assert contact.customer_id is None


# --- parse_record ------------------------------------------------------------------------------


def test_parse_record_returns_the_model(raw_invoice):
    invoice = parse_record(ExportInvoice, raw_invoice())
    assert isinstance(invoice, ExportInvoice)
    assert invoice.total == Decimal("108.25")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"total": "abc"}, "total: not a number ('abc')"),
        ({"total": "NaN"}, "total: not a finite number ('NaN')"),
        ({"modifiedOn": "yesterday"}, "modifiedOn: not a timestamp ('yesterday')"),
        ({"customer": "Smith"}, "customer: not an object ('Smith')"),
        ({"customer": {"id": "7", "name": "x"}}, "customer.id: not an integer ('7')"),
        ({"customerAddress": {"zip": 78701}}, "customerAddress.zip: not a string (78701)"),
        ({"items": "none"}, "items: not a list ('none')"),
    ],
)
def test_parse_record_explains_the_problem(overrides, reason, raw_invoice):
    problem = parse_record(ExportInvoice, raw_invoice(**overrides))
    assert problem == RecordProblem(record_id="24681357", reason=reason)


def test_parse_record_lists_several_problems_briefly(raw_invoice):
    raw = raw_invoice(total="x", balance="y", subTotal="z", salesTax="w", active=1)
    problem = parse_record(ExportInvoice, raw)
    assert isinstance(problem, RecordProblem)
    assert problem.reason.count("not a number") == 3
    assert problem.reason.endswith("(+2 more)")


def test_parse_record_without_an_id(raw_invoice):
    raw = raw_invoice()
    del raw["id"]
    assert parse_record(ExportInvoice, raw) == RecordProblem(None, "id: required")


def test_parse_record_keeps_an_unreadable_id_for_the_investigator(raw_invoice):
    problem = parse_record(ExportInvoice, raw_invoice(id="INV-1"))
    assert problem == RecordProblem("INV-1", "id: not an integer ('INV-1')")


@pytest.mark.parametrize("raw", [None, [], "record", 42])
def test_parse_record_never_raises_for_non_objects(raw):
    problem = parse_record(ExportInvoice, raw)
    assert isinstance(problem, RecordProblem)
    assert problem.record_id is None
    assert problem.reason.startswith("record is not an object")


def test_long_inputs_are_shortened_in_reasons(raw_invoice):
    problem = parse_record(ExportInvoice, raw_invoice(total="9" * 500 + "x"))
    assert isinstance(problem, RecordProblem)
    assert len(problem.reason) < 80
    assert problem.reason.endswith("…)")
