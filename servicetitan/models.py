"""Typed views of the fields of ServiceTitan export records that this product stores.

Ground truth is ServiceTitan's own OpenAPI documents (``Accounting.V2.ExportInvoiceResponse``,
``Crm.V2.ExportCustomerResponse``, ``Crm.V2.ExportCustomerContactResponse`` and their nested
schemas). The tests hold models of the whole records and check every schema property against
them (tests/records/export_models.py), so drift is caught.

How the models differ from the schemas, on purpose (real data disagrees with the spec's
"required" lists; see docs/architecture.md §5):

- Every field except the record's own ``id`` is optional and nullable.
- Enums are plain ``str``: a value ServiceTitan adds tomorrow is kept, not rejected. The known
  values are documented by the ``StrEnum`` classes below (``CustomerType.RESIDENTIAL ==
  "Residential"``).
- Money arrives as a JSON string on invoices (``"123.45"``) and as a JSON number on customers;
  both become ``Decimal`` without float artefacts. Non-numeric and non-finite values are errors.
- Timestamps may carry 7 fractional digits (.NET); they are truncated to microseconds (never
  rounded up, so a high-water mark built from them can never skip past a record). A timestamp
  without an offset is taken as UTC. The offset as sent is kept, so ``.date()`` is the business
  date ServiceTitan meant.
- Types are strict: ``"5"`` is not an id, ``1`` is not ``true``. JSON parsers produce exact
  types, so anything else is a contract break worth a visible reject, not a silent coercion.

``InvoiceMappedFields`` (``CustomerMappedFields``, ``ContactMappedFields``) declares only the
fields the sync stores and ignores the rest of the record, so a malformed field nobody stores
cannot reject a record. ``parse_record`` turns one raw record into a model or a
``RecordProblem`` with a short reason; it never raises for bad data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)

# --------------------------------------------------------------------------------------------
# Scalar types
# --------------------------------------------------------------------------------------------


def parse_decimal(value: object) -> Decimal:
    """A JSON string or number as an exact ``Decimal``.

    Strings are parsed as written (``"0.00"`` keeps its two places); floats go through
    ``str()`` so ``12.34`` becomes ``Decimal("12.34")``, not ``12.339999…``. Booleans,
    non-numeric text, NaN and infinities are errors.
    """
    if type(value) is str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise PydanticCustomError("not_a_number", "not a number") from None
        if not number.is_finite():
            raise PydanticCustomError("not_finite", "not a finite number")
        if "_" in value or not value.isascii() or value != value.strip():
            # Decimal() also takes "1_000", "١٢٣" and surrounding blanks; money never has them.
            raise PydanticCustomError("not_a_number", "not a number")
        return number
    if type(value) is int:
        return Decimal(value)
    if type(value) is float:
        if not math.isfinite(value):
            raise PydanticCustomError("not_finite", "not a finite number")
        return Decimal(str(value))
    if type(value) is Decimal:
        if not value.is_finite():
            raise PydanticCustomError("not_finite", "not a finite number")
        return value
    raise PydanticCustomError("not_a_number", "not a number")


def parse_timestamp(value: object) -> datetime:
    """An ISO-8601 string as an aware ``datetime``.

    Accepts ``Z``, ``±hh:mm`` or no offset (taken as UTC) and any number of fractional digits;
    digits beyond the sixth are truncated. Non-strings (including epoch numbers) are errors:
    the API only ever sends strings, so a number means something else changed.
    """
    if type(value) is not str:
        raise PydanticCustomError("not_a_timestamp", "not a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("not_a_timestamp", "not a timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


Money = Annotated[Decimal, PlainValidator(parse_decimal)]
"""A decimal amount: JSON string (invoices) or number (customers), exact, finite."""

Timestamp = Annotated[datetime, PlainValidator(parse_timestamp)]
"""An aware datetime from an ISO-8601 string; naive means UTC; truncated to microseconds."""

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""A JSON integer that fits PostgreSQL BIGINT."""

RecordId = Annotated[int, Field(gt=0, le=INT64_MAX)]
"""A record's own id: required, positive, BIGINT."""


# --------------------------------------------------------------------------------------------
# Known enum values (fields are typed ``str``; unknown values are kept)
# --------------------------------------------------------------------------------------------


class CustomerType(StrEnum):
    """``Crm.V2.CustomerType``."""

    RESIDENTIAL = "Residential"
    COMMERCIAL = "Commercial"


class ContactType(StrEnum):
    """``Crm.V2.ContactType``."""

    PHONE = "Phone"
    EMAIL = "Email"
    FAX = "Fax"
    MOBILE_PHONE = "MobilePhone"


# --------------------------------------------------------------------------------------------
# Base
# --------------------------------------------------------------------------------------------


class ServiceTitanModel(BaseModel):
    """Common configuration: camelCase on the wire, strict types, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        strict=True,
        extra="allow",
        frozen=True,
    )


# --------------------------------------------------------------------------------------------
# Invoices (accounting v2)
# --------------------------------------------------------------------------------------------


class NamedRef(ServiceTitanModel):
    """``Accounting.V2.NamedFieldResponse``: a reference such as ``businessUnit``."""

    id: Int64 | None = None
    name: str | None = None


class CustomerRef(NamedRef):
    """The invoice's ``customer``: id and display name (no type, no contact data)."""


class Address(ServiceTitanModel):
    """``Accounting.V2.AddressResponse``: ``customerAddress`` and ``locationAddress``."""

    street: str | None = None
    unit: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None


class JobRef(ServiceTitanModel):
    """``Accounting.V2.JobResponse``."""

    id: Int64 | None = None
    number: str | None = None
    type: str | None = None


class InvoiceMappedFields(ServiceTitanModel):
    """The invoice fields the sync stores; the rest of the record is ignored, not validated.

    ``records.pipeline`` validates with this model so that a malformed field nobody stores
    (an invoice line, a royalty date…) cannot reject an invoice, and because validating the
    whole record costs several times more. Only wire (camelCase) names are read, as
    ``records.raw``'s fast path does.
    """

    model_config = ConfigDict(extra="ignore", validate_by_name=False)

    id: RecordId
    reference_number: str | None = None
    invoice_date: Timestamp | None = None
    due_date: Timestamp | None = None
    sub_total: Money | None = None
    sales_tax: Money | None = None
    total: Money | None = None
    balance: Money | None = None
    customer: CustomerRef | None = None
    customer_address: Address | None = None
    business_unit: NamedRef | None = None
    created_on: Timestamp | None = None
    modified_on: Timestamp | None = None
    job: JobRef | None = None
    active: bool | None = None


# --------------------------------------------------------------------------------------------
# Customers and their contacts (crm v2)
# --------------------------------------------------------------------------------------------


class CustomerAddress(ServiceTitanModel):
    """``Crm.V2.Customers.CustomerAddress``: the customer's bill-to ``address``."""

    street: str | None = None
    unit: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class CustomerMappedFields(ServiceTitanModel):
    """The customer fields the sync stores; see ``InvoiceMappedFields`` for why it exists."""

    model_config = ConfigDict(extra="ignore", validate_by_name=False)

    id: RecordId
    active: bool | None = None
    name: str | None = None
    type: str | None = None
    """Known values: ``CustomerType``."""
    address: CustomerAddress | None = None
    balance: Money | None = None
    do_not_mail: bool | None = None
    do_not_service: bool | None = None
    created_on: Timestamp | None = None
    modified_on: Timestamp | None = None
    merged_to_id: Int64 | None = None


class ContactMappedFields(ServiceTitanModel):
    """The contact fields the sync stores; see ``InvoiceMappedFields`` for why it exists."""

    model_config = ConfigDict(extra="ignore", validate_by_name=False)

    id: RecordId
    type: str | None = None
    """Known values: ``ContactType``."""
    value: str | None = None
    modified_on: Timestamp | None = None
    customer_id: Int64 | None = None
    active: bool | None = None


# --------------------------------------------------------------------------------------------
# Parsing one raw record without raising
# --------------------------------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=ServiceTitanModel)

_MAX_ERRORS_IN_REASON: Final = 3
_MAX_INPUT_REPR: Final = 40

_SHORT_MESSAGES: Final[dict[str, str]] = {
    "missing": "required",
    "int_type": "not an integer",
    "bool_type": "not a boolean",
    "string_type": "not a string",
    "list_type": "not a list",
    "model_type": "not an object",
    "model_attributes_type": "not an object",
    "dict_type": "not an object",
    "greater_than": "must be positive",
    "less_than_equal": "out of the 64-bit integer range",
    "greater_than_equal": "out of the 64-bit integer range",
}


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """Why a raw record could not become a model.

    ``record_id`` is the raw ``id`` as text when there was one to read (even an invalid one,
    which helps whoever investigates the reject); ``reason`` is short and human-readable, e.g.
    ``"total: not a number ('abc')"``.
    """

    record_id: str | None
    reason: str


def parse_record(model: type[ModelT], raw: object) -> ModelT | RecordProblem:
    """Validate one raw export record; return the model or a ``RecordProblem``. Never raises."""
    if not isinstance(raw, dict):
        return RecordProblem(None, f"record is not an object ({_short_repr(raw)})")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        return RecordProblem(readable_record_id(raw), describe_errors(error.errors()))


def readable_record_id(raw: dict[str, Any]) -> str | None:
    """The raw ``id`` as text, if it is a scalar worth showing; at most 64 characters."""
    value = raw.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        return None
    try:
        text = str(value)
    except ValueError:  # an integer with more than 4300 digits is no id anyone can read
        return None
    return text[:64] if text else None


def describe_errors(errors: list[ErrorDetails]) -> str:
    """Pydantic errors as one short line: ``"path: message (input)"`` joined by ``"; "``."""
    parts = [_describe_error(error) for error in errors[:_MAX_ERRORS_IN_REASON]]
    if len(errors) > _MAX_ERRORS_IN_REASON:
        parts.append(f"(+{len(errors) - _MAX_ERRORS_IN_REASON} more)")
    return "; ".join(parts)


def _describe_error(error: ErrorDetails) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "record"
    kind = error["type"]
    message = _SHORT_MESSAGES.get(kind, error["msg"])
    if kind == "missing":
        return f"{path}: {message}"
    return f"{path}: {message} ({_short_repr(error['input'])})"


def _short_repr(value: object) -> str:
    text = _safe_repr(value)
    if len(text) > _MAX_INPUT_REPR:
        return text[: _MAX_INPUT_REPR - 1] + "…"
    return text


def _safe_repr(value: object) -> str:
    """``repr`` that survives integers too long for Python to print (over 4300 digits)."""
    try:
        return repr(value)
    except ValueError:
        return f"<{type(value).__name__} too long to show>"
