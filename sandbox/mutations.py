"""Change over time: modify, add, deactivate and merge records so incremental syncs have work.

Every change bumps ``modifiedOn`` past everything that exists, so changed records appear at the
tail of the export feed in change order (with occasional ties on ``modifiedOn``, ordered by id,
as real data has). Which records change is drawn from ``(seed, tenant, mutation number)``, so a
test that replays the same mutations sees the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.feed import KindStore, OverlayRecord
from sandbox.generate import CONTACT_PATTERNS, KINDS, Kind
from sandbox.rng import Draw, hash_key, str_key
from sandbox.tenant import TenantState
from sandbox.timefmt import TICKS_PER_SECOND, format_ticks

_CONTACT_TYPES = ("Phone", "MobilePhone", "Email", "Fax")


@dataclass
class KindChanges:
    """Ids touched in one kind by one mutation."""

    modified: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    deactivated: list[int] = field(default_factory=list)
    merged: list[tuple[int, int]] = field(default_factory=list)
    """Customers only: ``(merged id, surviving id)``; the survivor is also in ``modified``."""

    def ids(self) -> set[int]:
        """Every id whose current version changed."""
        return {*self.modified, *self.added, *self.deactivated, *(m for m, _ in self.merged)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "modified": self.modified,
            "added": self.added,
            "deactivated": self.deactivated,
            "merged": [{"id": m, "into": s} for m, s in self.merged],
        }


@dataclass
class MutationSummary:
    """What one ``mutate`` call did, per kind, and the ``modifiedOn`` range it used."""

    tenant_id: int
    customers: KindChanges = field(default_factory=KindChanges)
    invoices: KindChanges = field(default_factory=KindChanges)
    contacts: KindChanges = field(default_factory=KindChanges)
    first_modified_on: str | None = None
    last_modified_on: str | None = None

    def kind(self, kind: Kind) -> KindChanges:
        changes: KindChanges = getattr(self, kind)
        return changes

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "customers": self.customers.as_dict(),
            "invoices": self.invoices.as_dict(),
            "contacts": self.contacts.as_dict(),
            "first_modified_on": self.first_modified_on,
            "last_modified_on": self.last_modified_on,
        }


class _Pending:
    """Changes collected before timestamps are assigned (id → overlay entry, per kind)."""

    def __init__(self) -> None:
        self.entries: dict[Kind, dict[int, OverlayRecord]] = {kind: {} for kind in KINDS}

    def touched(self, kind: Kind, record_id: int) -> bool:
        return record_id in self.entries[kind]


def _pick_existing(
    state: TenantState,
    kind: Kind,
    draw: Draw,
    pending: _Pending,
    *,
    active_only: bool,
    exclude: Iterable[int] = (),
) -> OverlayRecord | None:
    """A random current record of ``kind`` not yet touched by this mutation, or None."""
    store = state.store(kind)
    excluded = set(exclude)
    base = store.seq.count
    total = base + len(store.added_ids)
    if total == 0:
        return None
    for _ in range(200):
        n = draw.below(total)
        if n < base:
            if not store.base_exists(n):
                continue
            record_id = store.seq.id_of(n)
        else:
            record_id = store.added_ids[n - base]
        if pending.touched(kind, record_id) or record_id in excluded:
            continue
        if active_only and not store.is_active(record_id):
            continue
        if kind == "customers" and (
            store.overlay.get(record_id) is not None
            and store.overlay[record_id].overrides.get("mergedToId") is not None
        ):
            continue
        entry = store.current_overlay(record_id)
        if entry is None:
            continue
        return _copy(entry)
    return None


def _copy(entry: OverlayRecord) -> OverlayRecord:
    return OverlayRecord(
        record_id=entry.record_id,
        gen_index=entry.gen_index,
        version=entry.version,
        created=entry.created,
        mod=entry.mod,
        base=entry.base,
        overrides=dict(entry.overrides),
        customer_index=entry.customer_index,
        customer_id=entry.customer_id,
        contact_type=entry.contact_type,
        contact_active=entry.contact_active,
    )


def _new_customer(state: TenantState, pending: _Pending, draw: Draw) -> OverlayRecord:
    store = state.store("customers")
    already = sum(1 for e in pending.entries["customers"].values() if not e.base)
    gen_index = state.gen.customers.count + len(store.added_ids) + already
    return OverlayRecord(
        record_id=store.allocate_id(),
        gen_index=gen_index,
        version=0,
        created=0,
        mod=0,
        base=False,
    )


def _new_contact(
    state: TenantState, customer_index: int, customer_id: int, contact_type: str
) -> OverlayRecord:
    store = state.store("contacts")
    record_id = store.allocate_id()
    return OverlayRecord(
        record_id=record_id,
        gen_index=(1 << 40) + record_id,
        version=0,
        created=0,
        mod=0,
        base=False,
        customer_index=customer_index,
        customer_id=customer_id,
        contact_type=contact_type,
        contact_active=True,
    )


def mutate(
    state: TenantState,
    *,
    modify: int = 0,
    add: int = 0,
    deactivate: int = 0,
    merge: int = 0,
    contacts: int = 0,
    kinds: Iterable[Kind] = ("customers", "invoices"),
    seed: int | None = None,
    base_seed: int = 0,
) -> MutationSummary:
    """Apply one batch of changes to a tenant and return what changed.

    ``modify``/``add``/``deactivate`` apply to each kind in ``kinds`` (customers and/or
    invoices); ``merge`` merges that many customer pairs (the duplicate gets ``active=false``
    and ``mergedToId``, the survivor a new version); ``contacts`` makes that many contact
    changes (about half edits, a quarter deactivations, a quarter new contacts — often for
    customers that had none). Added customers come with 0–3 contacts of their own.
    """
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in ("customers", "invoices"):
            raise ValueError(f"mutate kinds are customers and invoices, not {kind!r}")
    if min(modify, add, deactivate, merge, contacts) < 0:
        raise ValueError("mutation counts cannot be negative")
    state.mutations += 1
    draw = Draw(hash_key(base_seed, state.tenant_id, str_key("mutate"), state.mutations, seed or 0))
    summary = MutationSummary(state.tenant_id)
    pending = _Pending()

    if "customers" in kinds:
        for _ in range(add):
            entry = _new_customer(state, pending, draw)
            pending.entries["customers"][entry.record_id] = entry
            summary.customers.added.append(entry.record_id)
            layout = CONTACT_PATTERNS[draw.below(4)]
            types = layout[draw.below(len(layout))] if layout else ()
            for contact_type, _active in types:
                contact = _new_contact(state, entry.gen_index, entry.record_id, contact_type)
                pending.entries["contacts"][contact.record_id] = contact
                summary.contacts.added.append(contact.record_id)
    if "invoices" in kinds:
        inv_store = state.store("invoices")
        customer_total = state.customer_count()
        new_customers = [e for e in pending.entries["customers"].values() if not e.base]
        for n in range(add):
            c = draw.below(customer_total + len(new_customers))
            if c < customer_total:
                customer_index, customer_id = c, state.customer_id_at(c)
            else:
                new = new_customers[c - customer_total]
                customer_index, customer_id = new.gen_index, new.record_id
            entry = OverlayRecord(
                record_id=inv_store.allocate_id(),
                gen_index=state.gen.invoices.count + len(inv_store.added_ids) + n,
                version=0,
                created=0,
                mod=0,
                base=False,
                customer_index=customer_index,
                customer_id=customer_id,
            )
            pending.entries["invoices"][entry.record_id] = entry
            summary.invoices.added.append(entry.record_id)

    for kind in kinds:
        changes = summary.kind(kind)
        for _ in range(deactivate):
            picked = _pick_existing(state, kind, draw, pending, active_only=True)
            if picked is None:
                break
            picked.overrides["active"] = False
            pending.entries[kind][picked.record_id] = picked
            changes.deactivated.append(picked.record_id)
        for _ in range(modify):
            picked = _pick_existing(state, kind, draw, pending, active_only=False)
            if picked is None:
                break
            picked.version += 1
            pending.entries[kind][picked.record_id] = picked
            changes.modified.append(picked.record_id)

    for _ in range(merge):
        source = _pick_existing(state, "customers", draw, pending, active_only=True)
        if source is None:
            break
        target = _pick_existing(
            state, "customers", draw, pending, active_only=True, exclude=(source.record_id,)
        )
        if target is None:
            break
        source.overrides["active"] = False
        source.overrides["mergedToId"] = target.record_id
        target.version += 1
        pending.entries["customers"][source.record_id] = source
        pending.entries["customers"][target.record_id] = target
        summary.customers.merged.append((source.record_id, target.record_id))
        summary.customers.modified.append(target.record_id)

    _contact_changes(state, draw, pending, summary, contacts)
    _stamp_and_store(state, draw, pending, summary)
    return summary


def _contact_changes(
    state: TenantState, draw: Draw, pending: _Pending, summary: MutationSummary, count: int
) -> None:
    for _ in range(count):
        roll = draw.below(4)
        if roll < 2:
            picked = _pick_existing(state, "contacts", draw, pending, active_only=False)
            if picked is not None:
                picked.version += 1
                pending.entries["contacts"][picked.record_id] = picked
                summary.contacts.modified.append(picked.record_id)
                continue
        if roll == 2:
            picked = _pick_existing(state, "contacts", draw, pending, active_only=True)
            if picked is not None:
                picked.overrides["active"] = False
                pending.entries["contacts"][picked.record_id] = picked
                summary.contacts.deactivated.append(picked.record_id)
                continue
        # Add a contact, preferring customers that have none so "no contacts → some" happens.
        customer_index = draw.below(state.customer_count())
        for _ in range(20):
            if customer_index < state.gen.customers.count and (
                state.gen.contact_count(customer_index) == 0
            ):
                break
            customer_index = draw.below(state.customer_count())
        contact = _new_contact(
            state, customer_index, state.customer_id_at(customer_index), draw.pick(_CONTACT_TYPES)
        )
        pending.entries["contacts"][contact.record_id] = contact
        summary.contacts.added.append(contact.record_id)


def _stamp_and_store(
    state: TenantState, draw: Draw, pending: _Pending, summary: MutationSummary
) -> None:
    """Give every change a ``modifiedOn`` after the tenant clock and store it.

    Within a kind, changes are stamped in id order and about one in six shares the previous
    change's time: ties that a consumer resuming "after the last modifiedOn" would trip on.
    """
    t = state.clock + draw.between(1, 120) * TICKS_PER_SECOND
    first: int | None = None
    order: tuple[Kind, ...] = ("customers", "contacts", "invoices")
    for kind in order:
        entries = pending.entries[kind]
        store: KindStore = state.store(kind)
        previous_same_kind = False
        for record_id in sorted(entries):
            entry = entries[record_id]
            if not (previous_same_kind and draw.chance(16)):
                t += draw.between(1, 3 * TICKS_PER_SECOND)
            previous_same_kind = True
            entry.mod = t
            if not entry.base and entry.created == 0:
                entry.created = t
            store.put(entry)
            if first is None:
                first = t
    if first is not None:
        state.clock = t
        state.generation += 1
        summary.first_modified_on = format_ticks(first)
        summary.last_modified_on = format_ticks(t)
