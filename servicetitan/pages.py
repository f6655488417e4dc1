"""Pages as they come off the wire: exact bytes plus the envelope fields the sync needs.

The sync stages a page's raw bytes in PostgreSQL and parses the records later, so a page keeps
``raw`` untouched (no re-serialisation) and exposes ``continue_from``/``has_more`` and the record
count from one pass over the envelope that leaves the records undecoded (msgspec); ``records()``
decodes them (orjson) when someone asks. ``from_raw`` rebuilds a page from staged bytes with the
same checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec
import orjson

from servicetitan.errors import InvalidResponse


class ExportStream(StrEnum):
    """The export feeds the sync reads (``from``/``continueFrom`` paging)."""

    INVOICES = "invoices"
    CUSTOMERS = "customers"
    CUSTOMER_CONTACTS = "customer_contacts"

    @property
    def path(self) -> str:
        return _EXPORT_PATHS[self]


_EXPORT_PATHS = {
    ExportStream.INVOICES: "/accounting/v2/tenant/{tenant}/export/invoices",
    ExportStream.CUSTOMERS: "/crm/v2/tenant/{tenant}/export/customers",
    ExportStream.CUSTOMER_CONTACTS: "/crm/v2/tenant/{tenant}/export/customers/contacts",
}


class ListResource(StrEnum):
    """The paged list endpoints (``page``/``pageSize``), used for counts and fallback reads."""

    INVOICES = "invoices"
    CUSTOMERS = "customers"
    CUSTOMER_CONTACTS = "customer_contacts"

    @property
    def path(self) -> str:
        return _LIST_PATHS[self]

    @property
    def all_records_params(self) -> dict[str, str]:
        """The parameter that makes the list include inactive records (defaults hide them)."""
        return dict(_ALL_RECORDS_PARAMS[self])


_LIST_PATHS = {
    ListResource.INVOICES: "/accounting/v2/tenant/{tenant}/invoices",
    ListResource.CUSTOMERS: "/crm/v2/tenant/{tenant}/customers",
    ListResource.CUSTOMER_CONTACTS: "/crm/v2/tenant/{tenant}/customers/contacts",
}
_ALL_RECORDS_PARAMS: dict[ListResource, dict[str, str]] = {
    ListResource.INVOICES: {"activeState": "All"},
    ListResource.CUSTOMERS: {"active": "Any"},
    ListResource.CUSTOMER_CONTACTS: {},
}


def _decode_object(raw: bytes, what: str) -> dict[str, Any]:
    """orjson first; the standard library when orjson refuses something JSON allows.

    orjson rejects lone UTF-16 surrogate escapes (``"\\ud800"``), which are valid JSON syntax
    and do occur in real feeds. Failing the page for them would retry it forever, so the page
    is decoded by ``json`` instead and the record holding the surrogate is left for the models
    (and the database mapping) to reject on its own.

    A body nested deeper than orjson's 1024 levels reaches ``json``, which runs out of
    recursion: that is a body no retry changes, so it fails as such (not retryable).
    """
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            decoded = json.loads(raw)
        except RecursionError:
            raise _too_deep(raw, what) from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponse(
                f"{what} is not valid JSON ({len(raw)} bytes, {exc.msg} at position {exc.pos}); "
                "the body was probably cut off"
            ) from None
    if not isinstance(decoded, dict):
        raise InvalidResponse(f"{what} is not a JSON object")
    return decoded


def _too_deep(raw: bytes, what: str) -> InvalidResponse:
    return InvalidResponse(
        f"{what} is nested too deeply to decode ({len(raw)} bytes); no ServiceTitan record "
        "nests like this, so the body is broken or hostile",
        retryable=False,
    )


def _data(envelope: dict[str, Any], what: str) -> list[Any]:
    data = envelope.get("data")
    if not isinstance(data, list):
        raise InvalidResponse(f"{what} has no 'data' array")
    return data


def _has_more(envelope: dict[str, Any], what: str) -> bool:
    has_more = envelope.get("hasMore")
    if not isinstance(has_more, bool):
        raise InvalidResponse(f"{what} has no boolean 'hasMore'")
    return has_more


class _Envelope(msgspec.Struct):
    """An export page with its records left undecoded (``msgspec.Raw``: located, not built)."""

    data: list[msgspec.Raw] | None = None
    hasMore: Any = None  # the API spells the fields in camelCase
    continueFrom: Any = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def _plain_envelope(raw: bytes) -> _Envelope | None:
    """The envelope of a page whose envelope is as it should be, else ``None``.

    Why: the sync needs only ``hasMore``, ``continueFrom`` and the number of records when it
    fetches a page; decoding the records (2 MB of invoices with their lines) is the mapping's
    business and happens once, there. Any oddity — invalid JSON, a missing or non-array
    ``data``, a non-boolean ``hasMore``, nesting too deep for msgspec — returns ``None``, and
    the full decode produces the error (or the lenient result) exactly as before.
    """
    try:
        envelope = _ENVELOPE.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    if envelope.data is None or type(envelope.hasMore) is not bool:
        return None
    return envelope


@dataclass(frozen=True, eq=False)
class ExportPage:
    """One response of an export feed.

    ``records()`` are the decoded items of ``data`` (normally JSON objects; anything else is a
    malformed record for the models to report), decoded on first use. ``continue_from`` goes
    into the next request's ``from``; ``has_more`` False means "caught up: poll again in a few
    minutes".
    """

    stream: ExportStream
    raw: bytes = field(repr=False)
    continue_from: str | None
    has_more: bool
    record_count: int
    requested_from: str | None = None
    _records: list[list[Any]] = field(default_factory=list, repr=False)
    """Holds the decoded records once decoded (a box, since the page is frozen)."""

    @classmethod
    def from_raw(
        cls, stream: ExportStream, raw: bytes, *, requested_from: str | None = None
    ) -> ExportPage:
        """Check the envelope and build the page (also for bytes read back from staging)."""
        what = f"the {stream.value} export page"
        plain = _plain_envelope(raw)
        if plain is not None:
            assert plain.data is not None
            has_more: bool = plain.hasMore
            continue_from = plain.continueFrom
            record_count = len(plain.data)
            records: list[list[Any]] = []
        else:
            envelope = _decode_object(raw, what)
            decoded = _data(envelope, what)
            has_more = _has_more(envelope, what)
            continue_from = envelope.get("continueFrom")
            record_count = len(decoded)
            records = [decoded]
        if continue_from is not None and not isinstance(continue_from, str):
            continue_from = str(continue_from)
        return cls(
            stream=stream,
            raw=raw,
            continue_from=continue_from or None,
            has_more=has_more,
            record_count=record_count,
            requested_from=requested_from,
            _records=records,
        )

    def records(self) -> list[Any]:
        """The decoded records, in server order (the list is shared: do not mutate it)."""
        if not self._records:
            what = f"the {self.stream.value} export page"
            self._records.append(_data(_decode_object(self.raw, what), what))
        return self._records[0]


@dataclass(frozen=True, eq=False)
class ListPage:
    """One page of a paged list endpoint (``page`` counts from 1)."""

    resource: ListResource
    raw: bytes = field(repr=False)
    page: int
    page_size: int
    has_more: bool
    total_count: int | None
    record_count: int
    _records: list[Any] = field(default_factory=list, repr=False)

    @classmethod
    def from_raw(cls, resource: ListResource, raw: bytes, *, page: int, page_size: int) -> ListPage:
        what = f"the {resource.value} list page"
        envelope = _decode_object(raw, what)
        records = _data(envelope, what)
        has_more = _has_more(envelope, what)
        total = envelope.get("totalCount")
        return cls(
            resource=resource,
            raw=raw,
            page=page,  # what we asked for: paging must not depend on the server's echo
            page_size=page_size,
            has_more=has_more,
            total_count=total if _is_int(total) else None,
            record_count=len(records),
            _records=records,
        )

    def records(self) -> list[Any]:
        """The decoded records, in server order (the list is shared: do not mutate it)."""
        return self._records


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
