"""One page of raw export records in, rows and rejects out: the entry points map_and_insert calls.

For every page:

1. Records that share an ``id`` are collapsed to the LAST occurrence (export pages are ordered
   by modification time, so the last is the newest). The earlier ones are counted as
   ``superseded``, whatever their content: the newest version of a record is the truth, and an
   older valid version must not be written over a newer invalid one.
2. Each remaining record is mapped to its row (``records.invoice``/``member``/``contact``) and
   checked (``records.validation``). Mapping tries the fast path (``map_raw_*``, see
   ``records.raw``) and falls back to validating with the ``*MappedFields`` models of
   ``servicetitan.models``. Only what is stored is validated, so a malformed field nobody
   stores cannot reject a record (it is still in the staged raw page).
3. A problem in an essential field (``records.validation.ESSENTIAL_COLUMNS``; on the wire
   ``ESSENTIAL_FIELDS``) makes the record a ``Reject`` with the raw record and a short reason.
   A problem in any other field sets that column to NULL, the row is kept, and a
   ``FieldWarning`` says which column, why, and the start of the offending value.

Nothing is dropped silently: ``received == mapped + rejected + superseded``. Nothing raises for
bad data either, not even for a bug in a map: a deterministic exception would fail the activity
on every retry and stall the sync, so it becomes a reject that names the exception.
Rows keep input order (of their last occurrence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from pydantic import ValidationError

from records.contact import ContactRecord, map_contact, map_raw_contact
from records.invoice import InvoiceRecord, map_invoice, map_raw_invoice
from records.member import MemberRecord, map_customer, map_raw_customer
from records.validation import (
    Problem,
    contact_column_problems,
    invoice_column_problems,
    is_essential,
    member_column_problems,
)
from servicetitan.models import (
    INT64_MAX,
    ContactMappedFields,
    CustomerMappedFields,
    InvoiceMappedFields,
    RecordProblem,
    ServiceTitanModel,
    parse_record,
    readable_record_id,
)

RowT = TypeVar("RowT")
ModelT = TypeVar("ModelT", bound=ServiceTitanModel)

_MAX_EXCEPTION_TEXT: Final = 200
_SHOWN_PREFIX: Final = 10

ESSENTIAL_FIELDS: Final[Mapping[str, frozenset[tuple[str, ...]]]] = {
    "invoices": frozenset(
        {
            ("id",),
            ("customer",),
            ("customer", "id"),
            ("subTotal",),
            ("salesTax",),
            ("total",),
            ("balance",),
            ("createdOn",),
            ("modifiedOn",),
        }
    ),
    "customers": frozenset({("id",), ("createdOn",), ("modifiedOn",)}),
    "contacts": frozenset({("id",), ("customerId",), ("modifiedOn",)}),
}
"""Wire fields (paths) whose invalid value rejects the record: the essential columns' sources."""

WIRE_COLUMNS: Final[Mapping[str, Mapping[tuple[str, ...], str]]] = {
    "invoices": {
        ("referenceNumber",): "reference_number",
        ("invoiceDate",): "invoice_date",
        ("dueDate",): "due_date",
        ("customer", "name"): "customer_name",
        ("customerAddress", "street"): "customer_address",
        ("customerAddress", "city"): "customer_city",
        ("customerAddress", "state"): "customer_state",
        ("customerAddress", "zip"): "customer_zip",
        ("job", "number"): "job_number",
        ("job", "type"): "job_type",
        ("businessUnit", "name"): "business_unit",
        ("active",): "active",
    },
    "customers": {
        ("name",): "customer_name",
        ("type",): "customer_type",
        ("address", "street"): "customer_address",
        ("address", "city"): "customer_city",
        ("address", "state"): "customer_state",
        ("address", "zip"): "customer_zip",
        ("active",): "active_member",
        ("mergedToId",): "merged_to_id",
        ("doNotMail",): "do_not_mail",
        ("doNotService",): "do_not_service",
        ("balance",): "balance",
    },
    "contacts": {("type",): "type", ("value",): "value", ("active",): "active"},
}
"""The column a wire field is stored in, for warnings (a field stored nowhere keeps its path)."""

_WIRE_REASONS: Final[Mapping[str, str]] = {
    "int_type": "not an integer",
    "bool_type": "not a boolean",
    "string_type": "not a string",
    "float_type": "not a number",
    "model_type": "not an object",
    "model_attributes_type": "not an object",
    "dict_type": "not an object",
    "less_than_equal": "out of the 64-bit integer range",
    "greater_than_equal": "out of the 64-bit integer range",
}


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that did not become a row: its id as text (if readable), why, and the record.

    ``raw`` is the record exactly as received (normally a dict; anything else an export page
    held), for the rejects table.
    """

    record_id: str | None
    reason: str
    raw: Any


@dataclass(frozen=True, slots=True)
class FieldWarning:
    """A field stored as NULL because its value broke a rule; the record itself landed.

    ``value`` is only the start of the offending value, ASCII-escaped (``shown_value``): enough
    to recognise it, too little to copy personal data around.
    """

    record_id: str
    column: str
    value: str
    reason: str


@dataclass(slots=True)
class MappedPage(Generic[RowT]):
    """The outcome of mapping one page."""

    rows: list[RowT] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[FieldWarning] = field(default_factory=list)
    received: int = 0
    """Records in the input page."""
    superseded: int = 0
    """Records replaced by a later record with the same id in the same page."""

    @property
    def mapped(self) -> int:
        return len(self.rows)

    @property
    def rejected(self) -> int:
        return len(self.rejects)


def map_invoices(
    raw_records: Sequence[Any],
    customer_types: Mapping[int, str | None] | None = None,
) -> MappedPage[InvoiceRecord]:
    """Map a page of ``/export/invoices`` records.

    ``customer_types`` (customer id -> ServiceTitan customer type), when the caller has it,
    lets names be split by type instead of by the person-name heuristic.
    """

    def map_model(invoice: InvoiceMappedFields) -> InvoiceRecord:
        customer_id = invoice.customer.id if invoice.customer is not None else None
        known = (
            customer_types.get(customer_id) if customer_types and customer_id is not None else None
        )
        return map_invoice(invoice, known)

    def map_raw(raw: dict[str, Any]) -> InvoiceRecord | None:
        return map_raw_invoice(raw, customer_types)

    rules = _Rules("invoices", InvoiceMappedFields)
    return _map_page(raw_records, rules, map_raw, map_model, invoice_column_problems)


def map_customers(raw_records: Sequence[Any]) -> MappedPage[MemberRecord]:
    """Map a page of ``/export/customers`` records."""
    return _map_page(
        raw_records,
        _Rules("customers", CustomerMappedFields),
        map_raw_customer,
        map_customer,
        member_column_problems,
    )


def map_contacts(raw_records: Sequence[Any]) -> MappedPage[ContactRecord]:
    """Map a page of ``/export/customers/contacts`` records."""
    return _map_page(
        raw_records,
        _Rules("contacts", ContactMappedFields),
        map_raw_contact,
        map_contact,
        contact_column_problems,
    )


@dataclass(frozen=True, slots=True)
class _Rules(Generic[ModelT]):
    """A stream's model and the key into ``ESSENTIAL_FIELDS``/``WIRE_COLUMNS``."""

    kind: str
    model: type[ModelT]


def _map_page(
    raw_records: Sequence[Any],
    rules: _Rules[ModelT],
    map_raw: Callable[[dict[str, Any]], RowT | None],
    map_model: Callable[[ModelT], RowT],
    problems_of: Callable[[RowT], list[Problem]],
) -> MappedPage[RowT]:
    """Collapse duplicates, then map each record: fast path first, the model when it declines."""
    keys = [_dedup_key(raw) for raw in raw_records]
    last_position = {key: position for position, key in enumerate(keys) if key is not None}
    page: MappedPage[RowT] = MappedPage(received=len(keys))
    rows = page.rows
    rejects = page.rejects
    for position, raw in enumerate(raw_records):
        key = keys[position]
        if key is not None and last_position[key] != position:
            page.superseded += 1
            continue
        salvaged: list[Problem] = []
        try:
            row = map_raw(raw) if key is not None else None
            if row is None:
                parsed = parse_record(rules.model, raw)
                if isinstance(parsed, RecordProblem):
                    rescued = _salvage(rules, raw)
                    if rescued is None:
                        rejects.append(Reject(parsed.record_id, parsed.reason, raw))
                        continue
                    parsed, salvaged = rescued
                row = map_model(parsed)
            problems = problems_of(row)
        except Exception as error:
            rejects.append(Reject(_id_text(raw), _describe_exception(error), raw))
            continue
        if problems:
            if any(is_essential(type(row), problem.column) for problem in problems):
                reason = "; ".join(problem.text for problem in problems)
                rejects.append(Reject(str(key), reason, raw))
                continue
            _null_columns(row, problems)
        if salvaged or problems:
            page.warnings.extend(_warnings(row, [*salvaged, *problems]))
        rows.append(row)
    return page


def _salvage(rules: _Rules[ModelT], raw: Any) -> tuple[ModelT, list[Problem]] | None:
    """The model with every invalid non-essential field nulled, and those fields; or None.

    None when the record is not an object, an essential field is invalid, or nulling the
    invalid fields still does not make the record valid.
    """
    if type(raw) is not dict:
        return None
    try:
        rules.model.model_validate(raw)
    except ValidationError as error:
        errors = error.errors()
    else:  # pragma: no cover - only called after parse_record failed
        return None
    essential = ESSENTIAL_FIELDS[rules.kind]
    columns = WIRE_COLUMNS[rules.kind]
    patched: dict[str, Any] = raw
    problems: list[Problem] = []
    for detail in errors:
        path = tuple(str(part) for part in detail["loc"])
        if not path or path in essential or detail["type"] == "missing":
            return None
        patched = _without(patched, path)
        reason = _WIRE_REASONS.get(detail["type"], detail["msg"])
        problems.append(Problem(columns.get(path, ".".join(path)), reason, detail["input"]))
    try:
        return rules.model.model_validate(patched), problems
    except ValidationError:
        return None


def _without(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``record`` with the value at ``path`` set to None (the input is not changed)."""
    copy = dict(record)
    if len(path) == 1:
        copy[path[0]] = None
    else:
        inner = copy.get(path[0])
        if type(inner) is dict:
            copy[path[0]] = _without(inner, path[1:])
        else:
            copy[path[0]] = None
    return copy


def _null_columns(row: Any, problems: list[Problem]) -> None:
    """Store NULL in every column with a problem (rows are mutable dataclasses, see their doc)."""
    for problem in problems:
        setattr(row, problem.column, None)


def _warnings(row: Any, problems: list[Problem]) -> list[FieldWarning]:
    """One warning per column (its first problem)."""
    record_id = str(row.key)
    seen: dict[str, FieldWarning] = {}
    for problem in problems:
        if problem.column not in seen:
            seen[problem.column] = FieldWarning(
                record_id, problem.column, shown_value(problem.value), problem.reason
            )
    return list(seen.values())


def shown_value(value: object) -> str:
    """The first characters of ``value``, escaped to printable ASCII, marked when cut."""
    text = value if isinstance(value, str) else "null" if value is None else str(value)
    shown = text[:_SHOWN_PREFIX].encode("unicode_escape").decode("ascii")
    return shown + "..." if len(text) > _SHOWN_PREFIX else shown


def _id_text(raw: Any) -> str | None:
    return readable_record_id(raw) if type(raw) is dict else None


def _dedup_key(raw: Any) -> int | None:
    """The record's id when it is a valid one (a positive int64), else no de-duplication."""
    if type(raw) is not dict:
        return None
    value = raw.get("id")
    if type(value) is int and 0 < value <= INT64_MAX:
        return value
    return None


def _describe_exception(error: Exception) -> str:
    text = f"could not be mapped: {type(error).__name__}: {error}"
    return text[:_MAX_EXCEPTION_TEXT]
