"""Export records decoded with only the fields the sync stores.

An invoice of the export feed carries ~45 fields, among them its lines (``items``) and their
nested objects; the sync stores 15 of them. Decoding the whole page (orjson) builds every
line's objects only for the mapping to ignore them, and keeps the garbage collector busy.
``msgspec`` decodes straight into dicts that hold only the fields the ``*MappedFields`` models
declare (their aliases, as the API spells them) and skips everything else without building it.

The result is what ``{k: v for k, v in record.items() if k in declared}`` over a full decode
would give (values are ``Any``: nested objects become plain dicts and lists, numbers ints or
floats, exactly as orjson decodes them, except that integers too large for 64 bits stay exact
integers where orjson makes floats; either way the models reject them). So the fast path and
the models see the same input, and a test compares both decodes on every sandbox page.

Anything unusual about the page — a record that is not a JSON object, a lone UTF-16
surrogate, a number beyond a double, a missing or non-array ``data`` — makes ``projected``
return ``None``, and the caller decodes the page the full way (``ExportPage.from_raw``), which
also owns the error messages for broken envelopes. The full decode is also what a rejected
record is quarantined from: the rejects table keeps the whole record, not the projection.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec
from pydantic import BaseModel

from servicetitan.models import ContactMappedFields, CustomerMappedFields, InvoiceMappedFields
from servicetitan.pages import ExportPage, ExportStream

_MAPPED_MODELS: dict[ExportStream, type[BaseModel]] = {
    ExportStream.INVOICES: InvoiceMappedFields,
    ExportStream.CUSTOMERS: CustomerMappedFields,
    ExportStream.CUSTOMER_CONTACTS: ContactMappedFields,
}


def declared_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The JSON keys ``model`` reads (its validation aliases; it validates by alias only)."""
    keys = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        keys.append(alias or name)
    return tuple(keys)


def _decoder(stream: ExportStream) -> msgspec.json.Decoder[Any]:
    model = _MAPPED_MODELS[stream]
    # total=False: a key the record lacks stays absent (not None), as in a full decode.
    record = TypedDict(  # type: ignore[misc]
        f"{model.__name__}Projection", dict.fromkeys(declared_keys(model), Any), total=False
    )
    envelope = TypedDict(  # type: ignore[misc]  # noqa: UP013 - built from the model
        f"{model.__name__}ProjectionPage", {"data": list[record]}, total=False
    )
    return msgspec.json.Decoder(envelope)


_DECODERS = {stream: _decoder(stream) for stream in ExportStream}


def projected_records(stream: ExportStream, raw: bytes) -> list[dict[str, Any]] | None:
    """The page's records with only their mapped fields, or ``None``: decode it in full."""
    try:
        page = _DECODERS[stream].decode(raw)
    except msgspec.DecodeError:  # ValidationError included
        return None
    records: list[dict[str, Any]] | None = page.get("data")
    return records


def records_for_mapping(stream: ExportStream, raw: bytes) -> tuple[list[Any], bool]:
    """The page's records for the mapping: projected when possible, else decoded in full.

    The flag says whether they are projections (a reject then needs its full record).
    """
    records = projected_records(stream, raw)
    if records is not None:
        return records, True
    return ExportPage.from_raw(stream, raw).records(), False


class _InvoiceCustomer(TypedDict, total=False):
    customer: Any


class _InvoiceCustomersPage(TypedDict, total=False):
    data: list[_InvoiceCustomer]


_INVOICE_CUSTOMERS = msgspec.json.Decoder(_InvoiceCustomersPage)


def invoice_customer_ids(raw: bytes) -> list[str]:
    """The ids of the customers an invoice page refers to, sorted (for their types).

    Only ``customer`` of each record is decoded; unusual pages take the way of
    ``records_for_mapping``. Ids that are not integers are left out,
    as the mapping rejects their records.
    """
    try:
        records: list[Any] = _INVOICE_CUSTOMERS.decode(raw).get("data") or []
    except msgspec.DecodeError:
        records, _ = records_for_mapping(ExportStream.INVOICES, raw)
    ids: set[str] = set()
    for record in records:
        if isinstance(record, dict):
            customer = record.get("customer")
            if isinstance(customer, dict):
                customer_id = customer.get("id")
                if isinstance(customer_id, int) and not isinstance(customer_id, bool):
                    ids.add(str(customer_id))
    return sorted(ids)
