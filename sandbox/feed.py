"""Current state of one kind of record in one tenant, and its export feed.

The state is the generated base sequence plus a small overlay:

* ``overlay`` maps an id to the current version of every record that changed or was added
  (version number, new ``modifiedOn``, field overrides such as ``active``/``mergedToId``);
* ``tail`` is the append log of changes in feed order. A change stamps the record with a
  ``modifiedOn`` later than anything existing, so it belongs after the whole base sequence;
  a record changed twice has two tail entries and only the one matching its current
  ``modifiedOn`` is live (the older is skipped when read).

The feed order is therefore: base records that never changed (index order = (modifiedOn, id)
order), then live tail entries. A page starting at a position is one binary search in the base
and one in the tail, then a walk — never a scan from the start.

Injected bad records (see :mod:`sandbox.badrecords`) are tail entries carrying literal JSON
bytes, which may not even be valid UTF-8 JSON for strict parsers.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox.cursor import Position
from sandbox.generate import CONTACT_SLOTS, Kind, Record, TenantGenerator

ADDED_ID_GAP = 3


@dataclass
class OverlayRecord:
    """The current version of a record that changed since (or did not exist in) the base."""

    record_id: int
    gen_index: int
    """Generation key: the base index, or a virtual index past the base for added records."""
    version: int
    created: int
    mod: int
    base: bool
    overrides: dict[str, Any] = field(default_factory=dict)
    customer_index: int = -1
    """Invoices: the customer index whose identity is copied. Contacts: the owner's index."""
    customer_id: int = 0
    """Invoices and contacts: the owning customer's id."""
    contact_type: str = ""
    contact_active: bool = True


@dataclass(frozen=True)
class TailEntry:
    mod: int
    key: int
    record_id: int | None
    literal: bytes | None = None
    break_before: bool = False
    """End the page before this entry (used to pin injected duplicates to page boundaries)."""
    expect: str | None = None
    """Injected records only: "reject", "apply" or "warn" (what a correct consumer does)."""


@dataclass
class Page:
    """One export page: serialized records, where it ended, and whether more follows."""

    items: list[bytes]
    last: Position | None
    has_more: bool


class KindStore:
    """Base sequence + overlay + tail for one kind of one tenant."""

    def __init__(self, gen: TenantGenerator, kind: Kind) -> None:
        self.gen = gen
        self.kind = kind
        self.seq = gen.sequence(kind)
        self.overlay: dict[int, OverlayRecord] = {}
        self.overlaid_base: list[int] = []
        """Sorted base indices that have an overlay entry (so the base walk skips them)."""
        self.added_ids: list[int] = []
        self.tail: list[TailEntry] = []
        self.tail_keys: list[tuple[int, int]] = []
        self.next_added_id = self.seq.max_id() + 16
        self.contacts_by_customer: dict[int, list[int]] = {}
        """Contacts only: ids of added contacts per customer id."""

    # ---- base attributes -------------------------------------------------------------------

    def base_exists(self, i: int) -> bool:
        return self.kind != "contacts" or self.gen.contact_exists(i)

    def base_active(self, i: int) -> bool:
        if self.kind == "customers":
            return self.gen.customer_base_active(i)
        if self.kind == "invoices":
            return self.gen.invoice_base_active(i)
        return self.gen.contact_base_active(i)

    def base_created(self, i: int) -> int:
        if self.kind == "customers":
            return self.gen.customer_created(i)
        if self.kind == "invoices":
            return self.gen.invoice_created(i)
        return self.gen.contact_created(i)

    def build_base_json(self, i: int) -> bytes:
        """Base record ``i`` serialized (invoices are written as JSON text directly)."""
        if self.kind == "invoices":
            return self.gen.base_invoice_json(i)
        if self.kind == "customers":
            return orjson.dumps(self.gen.build_base_customer(i))
        return orjson.dumps(self.gen.build_base_contact(i))

    def build_base(self, i: int) -> Record:
        """Base record ``i`` as a fresh dict, parsed from the bytes the feed serves.

        Parsing (rather than returning the builder's dict) guarantees ground truth equals what
        is served and that callers never share nested objects with the generator's pools.
        """
        record: Record = orjson.loads(self.build_base_json(i))
        return record

    # ---- overlay ---------------------------------------------------------------------------

    def overlay_json(self, o: OverlayRecord) -> bytes:
        if self.kind == "invoices" and not o.overrides:
            return self.gen.invoice_json(
                o.gen_index,
                o.record_id,
                o.created,
                o.mod,
                o.customer_index,
                o.customer_id,
                o.version,
            )
        return orjson.dumps(self._overlay_dict(o))

    def build_overlay(self, o: OverlayRecord) -> Record:
        """The current version of an overlaid record as a fresh dict (see :meth:`build_base`)."""
        record: Record = orjson.loads(self.overlay_json(o))
        return record

    def _overlay_dict(self, o: OverlayRecord) -> Record:
        gen = self.gen
        if self.kind == "customers":
            record = gen.build_customer(o.gen_index, o.record_id, o.created, o.mod, o.version)
        elif self.kind == "invoices":
            record = gen.build_invoice(
                o.gen_index,
                o.record_id,
                o.created,
                o.mod,
                o.customer_index,
                o.customer_id,
                o.version,
            )
        else:
            record = gen.build_contact(
                o.gen_index,
                o.contact_type,
                o.contact_active,
                o.record_id,
                o.customer_id,
                o.created,
                o.mod,
                o.version,
            )
        if o.overrides:
            record.update(o.overrides)
        return record

    def overlay_for_base(self, i: int) -> OverlayRecord:
        """A fresh overlay entry describing base record ``i`` as it is now (not yet stored)."""
        record_id = self.seq.id_of(i)
        entry = OverlayRecord(
            record_id=record_id,
            gen_index=i,
            version=0,
            created=self.base_created(i),
            mod=self.seq.mod(i),
            base=True,
        )
        if self.kind == "invoices":
            c = self.gen.invoice_customer_index(i)
            entry.customer_index = c
            entry.customer_id = self.gen.customers.id_of(c)
        elif self.kind == "contacts":
            c, k = divmod(i, CONTACT_SLOTS)
            entry.customer_index = c
            entry.customer_id = self.gen.customers.id_of(c)
            entry.contact_type, entry.contact_active = self.gen.contact_layout(c)[k]
        return entry

    def current_overlay(self, record_id: int) -> OverlayRecord | None:
        """The overlay entry for ``record_id``, synthesising one for unchanged base records."""
        entry = self.overlay.get(record_id)
        if entry is not None:
            return entry
        i = self.seq.index_of(record_id)
        if i is None or not self.base_exists(i):
            return None
        return self.overlay_for_base(i)

    def is_active(self, record_id: int) -> bool:
        entry = self.overlay.get(record_id)
        if entry is None:
            i = self.seq.index_of(record_id)
            return i is not None and self.base_exists(i) and self.base_active(i)
        if "active" in entry.overrides:
            return bool(entry.overrides["active"])
        if self.kind == "contacts":
            return entry.contact_active
        if entry.base:
            return self.base_active(entry.gen_index)
        return True

    def put(self, entry: OverlayRecord, *, break_before: bool = False) -> None:
        """Store a changed/added record at ``entry.mod`` and append it to the tail."""
        if entry.record_id not in self.overlay:
            if entry.base:
                bisect.insort(self.overlaid_base, entry.gen_index)
            else:
                self.added_ids.append(entry.record_id)
                if self.kind == "contacts":
                    self.contacts_by_customer.setdefault(entry.customer_id, []).append(
                        entry.record_id
                    )
        self.overlay[entry.record_id] = entry
        self.append_tail(
            TailEntry(entry.mod, entry.record_id, entry.record_id, break_before=break_before)
        )

    def append_tail(self, entry: TailEntry) -> None:
        key = (entry.mod, entry.key)
        if self.tail_keys and key <= self.tail_keys[-1]:
            raise ValueError(f"tail must grow: {key} after {self.tail_keys[-1]}")
        self.tail.append(entry)
        self.tail_keys.append(key)

    def allocate_id(self) -> int:
        record_id = self.next_added_id
        self.next_added_id += ADDED_ID_GAP
        return record_id

    def live(self, entry: TailEntry) -> bool:
        if entry.literal is not None or entry.record_id is None:
            return True
        current = self.overlay.get(entry.record_id)
        return current is not None and current.mod == entry.mod

    def last_mod(self) -> int:
        """The newest ``modifiedOn`` in the feed (ticks), or the start when empty."""
        if self.tail_keys:
            return self.tail_keys[-1][0]
        if self.seq.count:
            return self.seq.mod(self.seq.count - 1)
        return self.gen.start_ticks

    # ---- the feed --------------------------------------------------------------------------

    def _base_start(self, after: Position) -> int:
        count = self.seq.count
        if count == 0:
            return 0
        last = count - 1
        if after >= (self.seq.mod(last), self.seq.id_of(last)):
            return count
        return self.seq.first_after(after.mod, after.key)

    def _next_base(self, i: int) -> int:
        """The first index ``>= i`` holding a base record that is still at its base place."""
        count = self.seq.count
        overlaid = self.overlaid_base
        skip = bisect.bisect_left(overlaid, i)
        while i < count:
            if skip < len(overlaid) and overlaid[skip] == i:
                skip += 1
                i += 1
                continue
            if self.base_exists(i):
                return i
            i += 1
        return count

    def _next_tail(self, j: int) -> int:
        while j < len(self.tail) and not self.live(self.tail[j]):
            j += 1
        return j

    def page(self, after: Position, limit: int) -> Page:
        """Up to ``limit`` serialized records strictly after ``after``, in feed order."""
        items: list[bytes] = []
        last: Position | None = None
        build = self.build_base_json
        seq = self.seq
        count = seq.count
        i = self._next_base(self._base_start(after))
        last_index = -1
        while i < count and len(items) < limit:
            items.append(build(i))
            last_index = i
            i = self._next_base(i + 1)
        if last_index >= 0:
            last = Position(seq.mod(last_index), seq.id_of(last_index))
        if i < count:
            return Page(items, last, True)
        j = self._next_tail(bisect.bisect_right(self.tail_keys, tuple(after)))
        while j < len(self.tail) and len(items) < limit:
            entry = self.tail[j]
            if entry.break_before and items:
                return Page(items, last, True)
            items.append(self._entry_bytes(entry))
            last = Position(entry.mod, entry.key)
            j = self._next_tail(j + 1)
        return Page(items, last, j < len(self.tail))

    def _entry_bytes(self, entry: TailEntry) -> bytes:
        if entry.literal is not None:
            return entry.literal
        assert entry.record_id is not None
        return self.overlay_json(self.overlay[entry.record_id])

    def iter_records(
        self, after: Position | None = None, *, skip_rejects: bool = False
    ) -> Iterator[Record]:
        """Every record a full export would serve now, in feed order, as dicts.

        Injected literal records are decoded with the standard library, which (unlike
        orjson) accepts lone surrogate escapes, so ground truth can describe them too.
        """
        seq = self.seq
        start = self._base_start(after) if after is not None else 0
        i = self._next_base(start)
        while i < seq.count:
            yield self.build_base(i)
            i = self._next_base(i + 1)
        j = bisect.bisect_right(self.tail_keys, tuple(after)) if after is not None else 0
        j = self._next_tail(j)
        while j < len(self.tail):
            entry = self.tail[j]
            if entry.literal is not None:
                if not (skip_rejects and entry.expect == "reject"):
                    yield json.loads(entry.literal.decode("utf-8", "surrogatepass"))
            else:
                assert entry.record_id is not None
                yield self.build_overlay(self.overlay[entry.record_id])
            j = self._next_tail(j + 1)

    def get(self, record_id: int) -> Record | None:
        """The current record with this id (generated records only; ignores injected ones)."""
        entry = self.overlay.get(record_id)
        if entry is not None:
            return self.build_overlay(entry)
        i = self.seq.index_of(record_id)
        if i is None or not self.base_exists(i):
            return None
        return self.build_base(i)

    def ids_in_id_order(self) -> Iterator[int]:
        """Ids of every current generated record, ascending (what list endpoints page over)."""
        seq = self.seq
        for i in range(seq.count):
            if self.base_exists(i):
                yield seq.id_of(i)
        yield from self.added_ids

    def mod_of(self, record_id: int) -> int:
        entry = self.overlay.get(record_id)
        if entry is not None:
            return entry.mod
        i = self.seq.index_of(record_id)
        assert i is not None
        return self.seq.mod(i)

    def created_of(self, record_id: int) -> int:
        entry = self.overlay.get(record_id)
        if entry is not None:
            return entry.created
        i = self.seq.index_of(record_id)
        assert i is not None
        return self.base_created(i)

    def contact_ids_of_customer(self, customer_index: int, customer_id: int) -> list[int]:
        """Contacts only: ids of a customer's contacts (base slots, then added), ascending."""
        ids: list[int] = []
        if 0 <= customer_index < self.gen.customers.count:
            first = customer_index * CONTACT_SLOTS
            for k in range(self.gen.contact_count(customer_index)):
                ids.append(self.seq.id_of(first + k))
        ids.extend(self.contacts_by_customer.get(customer_id, ()))
        return ids
