"""One page of raw export records in, rows and rejects out: the entry points map_and_insert calls.

For every page:

1. Records that share an ``id`` are collapsed to the LAST occurrence (export pages are ordered
   by modification time, so the last is the newest). The earlier ones are counted as
   ``superseded``, whatever their content: the newest version of a record is the truth, and an
   older valid version must not be written over a newer invalid one.
2. Each remaining record is mapped to its row (``records.invoice``/``member``/``contact``) and
   checked (``records.validation``). A failure at any step makes it a ``Reject`` with the raw
   record and a short reason. Mapping tries the fast path (``map_raw_*``, see ``records.raw``)
   and falls back to validating with the ``*MappedFields`` models of ``servicetitan.models``,
   which also produce the reason. Only what is stored is validated, so a malformed field
   nobody stores cannot reject a record (it is still in the staged raw page).

Nothing is dropped silently: ``received == mapped + rejected + superseded``. Nothing raises for
bad data either, not even for a bug in a map: a deterministic exception would fail the activity
on every retry and stall the sync, so it becomes a reject that names the exception.
Rows keep input order (of their last occurrence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from records.contact import ContactRecord, map_contact, map_raw_contact
from records.invoice import InvoiceRecord, map_invoice, map_raw_invoice
from records.member import MemberRecord, map_customer, map_raw_customer
from records.validation import contact_problems, invoice_problems, member_problems
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


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that did not become a row: its id as text (if readable), why, and the record.

    ``raw`` is the record exactly as received (normally a dict; anything else an export page
    held), for the rejects table.
    """

    record_id: str | None
    reason: str
    raw: Any


@dataclass(slots=True)
class MappedPage(Generic[RowT]):
    """The outcome of mapping one page."""

    rows: list[RowT] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
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

    return _map_page(raw_records, InvoiceMappedFields, map_raw, map_model, invoice_problems)


def map_customers(raw_records: Sequence[Any]) -> MappedPage[MemberRecord]:
    """Map a page of ``/export/customers`` records."""
    return _map_page(
        raw_records, CustomerMappedFields, map_raw_customer, map_customer, member_problems
    )


def map_contacts(raw_records: Sequence[Any]) -> MappedPage[ContactRecord]:
    """Map a page of ``/export/customers/contacts`` records."""
    return _map_page(
        raw_records, ContactMappedFields, map_raw_contact, map_contact, contact_problems
    )


def _map_page(
    raw_records: Sequence[Any],
    model: type[ModelT],
    map_raw: Callable[[dict[str, Any]], RowT | None],
    map_model: Callable[[ModelT], RowT],
    problems_of: Callable[[RowT], list[str]],
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
        try:
            row = map_raw(raw) if key is not None else None
            if row is None:
                parsed = parse_record(model, raw)
                if isinstance(parsed, RecordProblem):
                    rejects.append(Reject(parsed.record_id, parsed.reason, raw))
                    continue
                row = map_model(parsed)
            problems = problems_of(row)
        except Exception as error:
            rejects.append(Reject(_id_text(raw), _describe_exception(error), raw))
            continue
        if problems:
            rejects.append(Reject(str(key), "; ".join(problems), raw))
        else:
            rows.append(row)
    return page


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
