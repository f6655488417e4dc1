"""The paged list endpoints: ``page``/``pageSize``/``includeTotal`` over filtered records.

Lists page by offset over the records matching the query, in id order by default (``sort``
may ask for ``ModifiedOn``/``CreatedOn``/``Id``, ascending ``+`` or descending ``-``). The
matching ids of a query are computed once and cached (keyed by the tenant's change generation),
so paging through a large list costs one pass, not one pass per page; a change between pages
shifts offsets exactly as it would on a live server.

Defaults follow the documentation: customers are filtered to active ones unless
``active=Any``/``False``; invoices take ``activeState`` (default assumed ``ActiveOnly``, which
the docs do not state); contact lists carry no ``active`` field and list active contacts only.
"""

from __future__ import annotations

import bisect
import heapq
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from sandbox.feed import KindStore
from sandbox.generate import CONTACT_SLOTS, Kind, Record
from sandbox.tenant import TenantState
from sandbox.timefmt import parse_timestamp

ListName = Literal["invoices", "customers", "customer_contacts", "contacts_of_customer"]
MAX_IDS = 50


class BadQuery(ValueError):
    """A query parameter has a value the real API would answer 400 to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ListQuery:
    page: int
    page_size: int
    include_total: bool
    active: Literal["true", "false", "any"]
    ids: tuple[int, ...] | None
    modified_on_or_after: int | None
    modified_before: int | None
    created_on_or_after: int | None
    created_before: int | None
    customer_ids: tuple[int, ...] | None
    sort_field: Literal["id", "modifiedon", "createdon"]
    descending: bool

    def signature(self) -> tuple[object, ...]:
        """Everything but paging: two queries with equal signatures match the same records."""
        return (
            self.active,
            self.ids,
            self.modified_on_or_after,
            self.modified_before,
            self.created_on_or_after,
            self.created_before,
            self.customer_ids,
            self.sort_field,
            self.descending,
        )


def parse_bool(field: str, value: str | None, default: bool = False) -> bool:
    """ASP.NET-style boolean binding: ``true``/``false`` in any case; else a 400."""
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadQuery(field, f"The value '{value}' is not valid for {field}.")


def _int(field: str, value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise BadQuery(field, f"The value '{value}' is not valid for {field}.") from None


def _time(field: str, value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    ticks = parse_timestamp(value)
    if ticks is None:
        raise BadQuery(field, f"The value '{value}' is not valid for {field}.")
    return ticks


def _id_list(field: str, value: str | None) -> tuple[int, ...] | None:
    if value is None or value.strip() == "":
        return None
    try:
        ids = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise BadQuery(field, f"The value '{value}' is not valid for {field}.") from None
    if len(ids) > MAX_IDS:
        raise BadQuery(field, f"Simple IDs lookup should not exceed {MAX_IDS} elements.")
    return ids


def parse_query(
    name: ListName, params: Mapping[str, str], default_page_size: int, max_page_size: int
) -> ListQuery:
    """Validate the parameters a list endpoint understands; everything else is ignored."""
    page = _int("page", params.get("page"), 1)
    if page < 1:
        raise BadQuery("page", "The field Page must be greater than or equal to 1.")
    page_size = _int("pageSize", params.get("pageSize"), default_page_size)
    if not 1 <= page_size <= max_page_size:
        raise BadQuery("pageSize", f"The field PageSize must be between 1 and {max_page_size}.")
    active: Literal["true", "false", "any"] = "true"
    if name == "customers":
        raw = (params.get("active") or "True").strip().lower()
        if raw not in ("true", "false", "any"):
            raise BadQuery("active", f"The value '{params.get('active')}' is not valid for active.")
        active = raw  # type: ignore[assignment]
    elif name == "invoices":
        raw = (params.get("activeState") or "ActiveOnly").strip().lower()
        mapping: dict[str, Literal["true", "false", "any"]] = {
            "activeonly": "true",
            "inactiveonly": "false",
            "all": "any",
        }
        if raw not in mapping:
            raise BadQuery("activeState", f"The value '{params.get('activeState')}' is not valid.")
        active = mapping[raw]
    sort_raw = params.get("sort")
    sort_field: Literal["id", "modifiedon", "createdon"] = "id"
    descending = False
    if sort_raw:
        # A literal "+" in a query string decodes to a space: "sort=+ModifiedOn" -> " ModifiedOn".
        text = sort_raw.strip(" ")
        if sort_raw.startswith("-"):
            descending, text = True, sort_raw[1:]
        elif text.startswith("+"):
            text = text[1:]
        field = text.strip().lower()
        if field not in ("id", "modifiedon", "createdon"):
            raise BadQuery(
                "sort",
                f"Sorting by '{text}' is not supported. Available fields are: Id, "
                "ModifiedOn, CreatedOn.",
            )
        sort_field = field  # type: ignore[assignment]
    query = ListQuery(
        page=page,
        page_size=page_size,
        include_total=parse_bool("includeTotal", params.get("includeTotal")),
        active=active,
        ids=_id_list("ids", params.get("ids")),
        modified_on_or_after=_time("modifiedOnOrAfter", params.get("modifiedOnOrAfter")),
        modified_before=_time("modifiedBefore", params.get("modifiedBefore")),
        created_on_or_after=_time("createdOnOrAfter", params.get("createdOnOrAfter")),
        created_before=_time("createdBefore", params.get("createdBefore")),
        customer_ids=_id_list(
            "customerIds" if name == "customer_contacts" else "customerId",
            params.get("customerIds") if name == "customer_contacts" else params.get("customerId"),
        ),
        sort_field=sort_field,
        descending=descending,
    )
    if name == "customer_contacts" and not (
        query.customer_ids or query.modified_on_or_after is not None or query.modified_before
    ):
        raise BadQuery(
            "modifiedOnOrAfter",
            "Either CustomerIds, modifiedBefore or modifiedOnOrAfter must be specified.",
        )
    return query


def _candidate_ids(store: KindStore, query: ListQuery) -> Iterator[int]:
    """Ids that may match, ascending; narrowed by id list or modification range when given."""
    if query.ids is not None:
        for record_id in sorted(set(query.ids)):
            if store.current_overlay(record_id) is not None:
                yield record_id
        return
    seq = store.seq
    lo, hi = 0, seq.count
    if query.modified_on_or_after is not None:
        lo = seq.first_mod_at_or_after(query.modified_on_or_after)
    if query.modified_before is not None:
        hi = max(lo, seq.first_mod_at_or_after(query.modified_before))
    overlaid = store.overlaid_base
    skip = bisect.bisect_left(overlaid, lo)
    in_range: list[int] = []
    for i in range(lo, hi):
        if skip < len(overlaid) and overlaid[skip] == i:
            skip += 1
        elif store.base_exists(i):
            in_range.append(seq.id_of(i))
    # Changed base records left their base place (their modifiedOn moved): all are candidates.
    yield from heapq.merge(in_range, [seq.id_of(i) for i in overlaid])
    yield from store.added_ids


def _matches(store: KindStore, state: TenantState, record_id: int, query: ListQuery) -> bool:
    if query.active != "any" and store.is_active(record_id) != (query.active == "true"):
        return False
    if query.modified_on_or_after is not None or query.modified_before is not None:
        mod = store.mod_of(record_id)
        if query.modified_on_or_after is not None and mod < query.modified_on_or_after:
            return False
        if query.modified_before is not None and mod >= query.modified_before:
            return False
    if query.created_on_or_after is not None or query.created_before is not None:
        created = store.created_of(record_id)
        if query.created_on_or_after is not None and created < query.created_on_or_after:
            return False
        if query.created_before is not None and created >= query.created_before:
            return False
    if query.customer_ids is not None:
        entry = store.overlay.get(record_id)
        if entry is not None:
            owner = entry.customer_id
        else:
            i = store.seq.index_of(record_id)
            assert i is not None
            if store.kind == "invoices":
                owner = state.gen.customers.id_of(state.gen.invoice_customer_index(i))
            else:
                owner = state.gen.customers.id_of(i // CONTACT_SLOTS)
        if owner not in query.customer_ids:
            return False
    return True


class ListEngine:
    """Computes and caches the ordered matching ids of list queries."""

    def __init__(self, max_entries: int = 16) -> None:
        self._cache: OrderedDict[tuple[object, ...], tuple[int, array[int]]] = OrderedDict()
        self._max = max_entries

    def clear(self) -> None:
        self._cache.clear()

    def matching(self, state: TenantState, kind: Kind, query: ListQuery) -> array[int]:
        key = (state.tenant_id, kind, query.signature())
        hit = self._cache.get(key)
        if hit is not None and hit[0] == state.generation:
            self._cache.move_to_end(key)
            return hit[1]
        store = state.store(kind)
        ids = array(
            "q", (i for i in _candidate_ids(store, query) if _matches(store, state, i, query))
        )
        if query.sort_field == "modifiedon":
            ids = array("q", sorted(ids, key=lambda r: (store.mod_of(r), r)))
        elif query.sort_field == "createdon":
            ids = array("q", sorted(ids, key=lambda r: (store.created_of(r), r)))
        if query.descending:
            ids.reverse()
        self._cache[key] = (state.generation, ids)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return ids

    def page(
        self, state: TenantState, kind: Kind, query: ListQuery
    ) -> tuple[list[Record], bool, int]:
        """(records of the requested page, hasMore, total count)."""
        ids = self.matching(state, kind, query)
        start = (query.page - 1) * query.page_size
        chunk: Iterable[int] = ids[start : start + query.page_size]
        store = state.store(kind)
        records: list[Record] = []
        for record_id in chunk:
            record = store.get(record_id)
            if record is not None:
                records.append(record)
        return records, start + query.page_size < len(ids), len(ids)
