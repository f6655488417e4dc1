"""Typed records from pages: the models applied one record at a time.

A record that does not fit its model becomes a ``RejectedRecord`` (its raw JSON and the reason)
and the rest of the page is kept: one odd record must never cost a page, and must never vanish
without a trace either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from servicetitan.models import (
    ExportCustomer,
    ExportCustomerContact,
    ExportInvoice,
    RecordProblem,
    ServiceTitanModel,
    parse_record,
)
from servicetitan.pages import ExportPage, ExportStream

M = TypeVar("M", bound=ServiceTitanModel)

ExportRecord = ExportInvoice | ExportCustomer | ExportCustomerContact

EXPORT_MODELS: dict[ExportStream, type[ExportRecord]] = {
    ExportStream.INVOICES: ExportInvoice,
    ExportStream.CUSTOMERS: ExportCustomer,
    ExportStream.CUSTOMER_CONTACTS: ExportCustomerContact,
}


@dataclass(frozen=True)
class RejectedRecord:
    """A record the model refused: where it was, its id if readable, why, and the raw data."""

    index: int
    record_id: str | None
    reason: str
    raw: Any = field(repr=False)

    @property
    def raw_json(self) -> bytes:
        """The record as JSON (re-encoded from the decoded page; values unchanged).

        Lone surrogates, which orjson cannot encode, come out as ``\\udXXX`` escapes.
        """
        try:
            return orjson.dumps(self.raw)
        except TypeError:
            return json.dumps(self.raw, ensure_ascii=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ParsedRecords(Generic[M]):
    """The records of one page that parsed, in order, and the ones that did not."""

    records: list[M]
    rejected: list[RejectedRecord]


def parse_records(model: type[M], raw_records: Iterable[Any]) -> ParsedRecords[M]:
    """Parse every record; never raises for bad data."""
    records: list[M] = []
    rejected: list[RejectedRecord] = []
    for index, raw in enumerate(raw_records):
        result = parse_record(model, raw)
        if isinstance(result, RecordProblem):
            rejected.append(RejectedRecord(index, result.record_id, result.reason, raw))
        else:
            records.append(result)
    return ParsedRecords(records, rejected)


def parse_export_page(page: ExportPage) -> ParsedRecords[ExportRecord]:
    """The page's records through the model of its stream."""
    return parse_records(EXPORT_MODELS[page.stream], page.records())
