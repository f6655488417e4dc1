"""A page from response bytes to COPY-ready batches: parse, map, validate, encode.

This is the CPU-heavy part of applying a page, gathered in one pure function so it can run in
another process (``activities/mapping_pool.py``) while the worker's event loop keeps fetching
and writing. What comes back is small to send: the rows as COPY text, the rejects, counts and
the page's newest ``modifiedOn``, and the field warnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from records.copy_text import CopyBatch, encode_rows
from records.pipeline import (
    FieldWarning,
    MappedPage,
    Reject,
    map_contacts,
    map_customers,
    map_invoices,
)
from servicetitan.errors import InvalidResponse
from servicetitan.pages import ExportPage, ExportStream
from servicetitan.projection import records_for_mapping


@dataclass(frozen=True)
class PreparedPage:
    batches: list[CopyBatch]
    mapped: int
    superseded: int = 0
    rejects: list[Reject] = field(default_factory=list)
    high_water: datetime | None = None
    """The newest ``modifiedOn`` among the mapped rows (the stream's high-water mark)."""
    warnings: list[FieldWarning] = field(default_factory=list)
    """Fields of mapped rows stored as NULL because their values broke a rule."""

    @property
    def rejected(self) -> int:
        return len(self.rejects)


def map_records(
    stream: str, records: Sequence[Any], customer_types: Mapping[int, str | None] | None
) -> MappedPage[Any]:
    """The stream's mapping (invoices use the customers' types to split names)."""
    if stream == ExportStream.INVOICES:
        return map_invoices(records, customer_types)
    if stream == ExportStream.CUSTOMERS:
        return map_customers(records)
    return map_contacts(records)


def prepare_page(
    stream: str,
    raw: bytes,
    customer_types: Mapping[int, str | None] | None,
    prefix: Sequence[Any],
    batch_size: int,
) -> PreparedPage:
    """Parse an export page's bytes and turn its records into COPY batches (after ``prefix``).

    The records are decoded with only the fields the mapping reads (``projected_records``),
    or in full when the page is unusual; rejects keep the record in full either way.
    """
    export_stream = ExportStream(stream)
    records, projected = records_for_mapping(export_stream, raw)
    mapped = map_records(stream, records, customer_types)
    rejects = mapped.rejects
    if projected and rejects:
        rejects = _with_full_records(export_stream, raw, records, rejects)
    stamps = [row.source_modified_at for row in mapped.rows if row.source_modified_at]
    return PreparedPage(
        batches=encode_rows(
            (row.as_tuple() for row in mapped.rows), prefix=prefix, batch_size=batch_size
        ),
        mapped=mapped.mapped,
        superseded=mapped.superseded,
        rejects=rejects,
        high_water=max(stamps) if stamps else None,
        warnings=mapped.warnings,
    )


def _with_full_records(
    stream: ExportStream, raw: bytes, projected: list[Any], rejects: list[Reject]
) -> list[Reject]:
    """The rejects with the records as received, not their projections (for the rejects table).

    A reject holds the very projected dict it was made from, so its position in the page is
    found by identity. Only pages with rejects pay for the full decode.
    """
    try:
        full = ExportPage.from_raw(stream, raw).records()
    except InvalidResponse:  # e.g. invalid UTF-8 in a field nobody maps: keep the projection
        return rejects
    if len(full) != len(projected):
        return rejects
    positions = {id(record): position for position, record in enumerate(projected)}
    return [
        replace(reject, raw=full[positions[id(reject.raw)]])
        if id(reject.raw) in positions
        else reject
        for reject in rejects
    ]
