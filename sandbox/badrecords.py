"""Malformed records injected into an export feed, each with the verdict a correct consumer owes.

Real feeds occasionally carry records no schema promised: missing ids, wrong types, absurd
values, megabyte strings, strings PostgreSQL cannot store, the same id twice. The reliability
suite injects them here and checks the consumer against the returned expectations:

* ``reject`` — the record cannot be stored faithfully; a correct consumer skips it, records it
  as rejected with a reason, and carries on with the rest of the page and the sync;
* ``apply`` — the record is unusual but valid; a correct consumer stores it (for duplicates,
  the later occurrence in feed order wins — it has the later ``modifiedOn``);
* ``warn`` — the record is usable but one of its optional fields is not (a date out of range,
  text PostgreSQL cannot store, an over-long string); a correct consumer stores the record with
  that field empty and reports the field. Whether a defect rejects or warns depends on the
  field it lands in: ids, ``createdOn``/``modifiedOn`` and invoice money reject.

Rejected records get fresh ids that no valid record uses, so rejecting them never hides a
real record. Duplicates reuse a real record's id and end at its current version, so ground
truth (:meth:`sandbox.state.Sandbox.invoices` etc.) already describes the winner.

Records are serialized by the standard library with ``ensure_ascii``, which is how a lone
surrogate (``"\\ud800"``) and NUL (``"\\u0000"``) reach the wire as escapes. Note that orjson
refuses the lone surrogate, so a consumer parsing a page in one go must fall back to
per-record handling to reject just that record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sandbox.feed import OverlayRecord, TailEntry
from sandbox.generate import Kind, Record
from sandbox.rng import Draw, hash_key, str_key
from sandbox.tenant import TenantState
from sandbox.timefmt import TICKS_PER_SECOND, format_ticks

Expectation = Literal["reject", "apply", "warn"]


@dataclass(frozen=True)
class InjectedRecord:
    """One injected record: where, what, and what a correct consumer must do with it."""

    kind: Kind
    case: str
    id: int | None
    """The record's id as an integer, or None when it has none usable (missing/wrong type)."""
    expect: Expectation
    description: str
    modified_on: str
    """The feed position's ``modifiedOn`` (also the record's own, unless that is the defect)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "case": self.case,
            "id": self.id,
            "expect": self.expect,
            "description": self.description,
            "modified_on": self.modified_on,
        }


_HUGE = 1024 * 1024

# Which field each defect lands in, per kind.
_MONEY = {"invoices": "total", "customers": "balance"}
_DATE = {"invoices": "invoiceDate", "customers": "createdOn", "contacts": "modifiedOn"}
_TEXT = {"invoices": ("customer", "name"), "customers": ("name",), "contacts": ("value",)}
_ENUM = {"invoices": ("sentStatus", "Archived"), "customers": ("type", "Government"),
         "contacts": ("type", "Pager")}  # fmt: skip


def _set(record: Record, path: tuple[str, ...], value: Any) -> None:
    target = record
    for key in path[:-1]:
        if target.get(key) is None:
            target[key] = {"id": 1}
        target = target[key]
    target[path[-1]] = value


Mutator = Callable[[Kind, Record], str]


def _missing_id(kind: Kind, r: Record) -> str:
    del r["id"]
    return "no 'id' field at all"


def _wrong_type_id(kind: Kind, r: Record) -> str:
    r["id"] = f"ST-{r['id']}"
    return "'id' is a string, not an integer"


def _wrong_type_field(kind: Kind, r: Record) -> str:
    if kind == "invoices":
        r["total"] = {"value": r.get("total")}
        return "'total' is an object, not a money string"
    if kind == "customers":
        r["active"] = "yes"
        return "'active' is the string 'yes', not a boolean"
    r["customerId"] = "unknown"
    return "'customerId' is a string, not an integer"


def _absurd_money(kind: Kind, r: Record) -> str:
    field = _MONEY[kind]
    r[field] = "1e40" if kind == "invoices" else 1e40
    return f"'{field}' is 1e40, beyond any money column"


def _year_9999(kind: Kind, r: Record) -> str:
    field = _DATE[kind]
    r[field] = "9999-12-31T23:59:59.9999999Z"
    return f"'{field}' is in year 9999"


def _unparsable_date(kind: Kind, r: Record) -> str:
    field = _DATE[kind]
    r[field] = "31/02/2024 25:61"
    return f"'{field}' is not a date"


def _unparsable_modified_on(kind: Kind, r: Record) -> str:
    r["modifiedOn"] = "yesterday"
    return "'modifiedOn' is not a date (a consumer must not let it move its high-water mark)"


def _lone_surrogate(kind: Kind, r: Record) -> str:
    path = _TEXT[kind]
    _set(r, path, "Bad \ud800 surrogate")
    return f"'{'.'.join(path)}' holds a lone UTF-16 surrogate escape (\\ud800)"


def _nul(kind: Kind, r: Record) -> str:
    path = _TEXT[kind]
    _set(r, path, "Null\u0000Byte")
    return f"'{'.'.join(path)}' holds U+0000, which PostgreSQL text cannot store"


def _huge_string(kind: Kind, r: Record) -> str:
    phrase = "Лорем ипсум — ñandú 🐍 "
    text = (phrase * (_HUGE // len(phrase) + 1))[:_HUGE]
    if kind == "invoices":
        r["summary"] = text
        return "'summary' is a ~1 MB string (valid; must not break the page)"
    if kind == "customers":
        r["customFields"] = [{"typeId": 501, "name": "Notes", "value": text}]
        return "'customFields[0].value' is a ~1 MB string (valid; must not break the page)"
    r["memo"] = text
    return "'memo' is a ~1 MB string (valid; must not break the page)"


NO_DATE = "0001-01-01T00:00:00"
""".NET's default ``DateTime``, which .NET services send for "no date"."""

_NO_DATE_FIELD = {"invoices": "dueDate", "customers": "createdOn"}
_LONG_TEXT = {"invoices": ("referenceNumber",), "customers": ("address", "zip"),
              "contacts": ("value",)}  # fmt: skip


def _no_date_sentinel(kind: Kind, r: Record) -> str:
    field = _NO_DATE_FIELD[kind]
    r[field] = NO_DATE
    meaning = "no due date" if kind == "invoices" else "a required date that is missing"
    return f"'{field}' is .NET's \"no date\" {NO_DATE} ({meaning})"


def _over_long_text(kind: Kind, r: Record) -> str:
    path = _LONG_TEXT[kind]
    _set(r, path, "9" * 400)
    return f"'{'.'.join(path)}' is 400 characters, longer than its column"


def _unknown_enum(kind: Kind, r: Record) -> str:
    field, value = _ENUM[kind]
    r[field] = value
    return f"'{field}' is {value!r}, not in the documented enum (consumers must accept it)"


def _spec_nulls(kind: Kind, r: Record) -> str:
    r["type"] = None
    r["externalData"] = None
    r["address"]["country"] = None
    return "'type', 'externalData' and 'address.country' are null (seen in real data)"


@dataclass(frozen=True)
class _Case:
    mutator: Mutator
    expect: Expectation
    kinds: tuple[Kind, ...]
    per_kind: tuple[tuple[Kind, Expectation], ...] = ()
    """Kinds whose verdict differs from ``expect`` (the defect lands in another field)."""

    def expect_for(self, kind: Kind) -> Expectation:
        return dict(self.per_kind).get(kind, self.expect)


_ALL: tuple[Kind, ...] = ("invoices", "customers", "contacts")
# invoices: the date defects land in invoiceDate (optional); customers: in createdOn;
# contacts: in modifiedOn (both essential).
_DATE_VERDICTS: tuple[tuple[Kind, Expectation], ...] = (("invoices", "warn"),)
CASES: dict[str, _Case] = {
    "missing_id": _Case(_missing_id, "reject", _ALL),
    "wrong_type_id": _Case(_wrong_type_id, "reject", _ALL),
    "wrong_type_field": _Case(_wrong_type_field, "reject", _ALL, (("customers", "warn"),)),
    "absurd_money": _Case(
        _absurd_money, "reject", ("invoices", "customers"), (("customers", "warn"),)
    ),
    "year_9999": _Case(_year_9999, "reject", _ALL, _DATE_VERDICTS),
    "unparsable_date": _Case(_unparsable_date, "reject", _ALL, _DATE_VERDICTS),
    "unparsable_modified_on": _Case(_unparsable_modified_on, "reject", _ALL),
    "lone_surrogate": _Case(_lone_surrogate, "warn", _ALL),
    "nul_char": _Case(_nul, "warn", _ALL),
    "over_long_text": _Case(_over_long_text, "warn", _ALL),
    "no_date_sentinel": _Case(
        _no_date_sentinel, "apply", ("invoices", "customers"), (("customers", "reject"),)
    ),
    "huge_string": _Case(_huge_string, "apply", _ALL),
    "unknown_enum": _Case(_unknown_enum, "apply", _ALL),
    "spec_nulls": _Case(_spec_nulls, "apply", ("customers",)),
}
DUPLICATE_CASES = ("duplicate_in_page", "duplicate_across_pages")
"""The same real id twice: adjacent on one page, or last on one page and first on the next."""


LATER_CASES = ("over_long_text", "no_date_sentinel")
"""Cases added after the duplicates existed: injected after them, so that every earlier case
draws the same records and timestamps as before (seeded scenarios stay as they were)."""


def applicable_cases(kind: Kind) -> list[str]:
    fitting = [name for name, case in CASES.items() if kind in case.kinds]
    earlier = [name for name in fitting if name not in LATER_CASES]
    later = [name for name in fitting if name in LATER_CASES]
    return earlier + list(DUPLICATE_CASES) + later


def inject(
    state: TenantState, kind: Kind, cases: Iterable[str] | None, base_seed: int
) -> list[InjectedRecord]:
    """Append the requested bad records (default: every case that fits ``kind``) to the feed."""
    names = list(cases) if cases is not None else applicable_cases(kind)
    for name in names:
        if name not in CASES and name not in DUPLICATE_CASES:
            raise ValueError(f"unknown bad-record case {name!r}; known: {applicable_cases(kind)}")
        if name in CASES and kind not in CASES[name].kinds:
            raise ValueError(f"case {name!r} does not apply to {kind}")
    store = state.store(kind)
    state.mutations += 1
    draw = Draw(hash_key(base_seed, state.tenant_id, str_key("inject"), state.mutations))
    injected: list[InjectedRecord] = []

    def stamp() -> int:
        state.clock += draw.between(1, 3 * TICKS_PER_SECOND)
        return state.clock

    state.clock += 60 * TICKS_PER_SECOND
    for name in names:
        if name in DUPLICATE_CASES:
            injected.append(_duplicate(state, kind, name, draw, stamp))
            continue
        case = CASES[name]
        record_id = store.allocate_id()
        t = stamp()
        record = _template(state, kind, record_id, t)
        description = case.mutator(kind, record)
        literal = _serialize(record)
        expect = case.expect_for(kind)
        store.append_tail(TailEntry(t, record_id, record_id, literal=literal, expect=expect))
        keeps_id = isinstance(record.get("id"), int)
        injected.append(
            InjectedRecord(
                kind,
                name,
                record_id if keeps_id else None,
                expect,
                description,
                format_ticks(t),
            )
        )
    state.generation += 1
    return injected


def _serialize(record: Record) -> bytes:
    """orjson's bytes; the standard library's ASCII escapes when orjson refuses (surrogates)."""
    try:
        return orjson.dumps(record)
    except TypeError:
        return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _template(state: TenantState, kind: Kind, record_id: int, t: int) -> Record:
    """A valid record of ``kind`` with a fresh id, for a defect to be applied to."""
    gen = state.gen
    if kind == "customers":
        return gen.build_customer(gen.customers.count + 10**9 + record_id, record_id, t, t)
    if kind == "invoices":
        return gen.build_invoice(
            gen.invoices.count + 10**9 + record_id, record_id, t, t, 0, gen.customers.id_of(0)
        )
    return gen.build_contact(
        (1 << 41) + record_id, "Phone", True, record_id, gen.customers.id_of(0), t, t
    )


def _duplicate(
    state: TenantState, kind: Kind, case: str, draw: Draw, stamp: Callable[[], int]
) -> InjectedRecord:
    """Serve a real record twice: a literal copy of its current version, then a newer version.

    ``duplicate_in_page`` starts a page at the copy so both land on it (any page size >= 2);
    ``duplicate_across_pages`` ends the page after the copy so the newer version opens the next.
    """
    store = state.store(kind)
    entry: OverlayRecord | None = None
    for _ in range(200):
        n = draw.below(store.seq.count) if store.seq.count else 0
        if store.seq.count and store.base_exists(n):
            entry = store.current_overlay(store.seq.id_of(n))
            if entry is not None:
                break
    if entry is None:
        raise ValueError(f"tenant {state.tenant_id} has no {kind} to duplicate")
    t1 = stamp()
    first = OverlayRecord(**{**entry.__dict__, "overrides": dict(entry.overrides), "mod": t1})
    literal = _serialize(store.build_overlay(first))
    in_page = case == "duplicate_in_page"
    store.append_tail(
        TailEntry(
            t1,
            entry.record_id,
            entry.record_id,
            literal=literal,
            break_before=in_page,
            expect="apply",
        )
    )
    second = OverlayRecord(**{**first.__dict__, "overrides": dict(first.overrides)})
    second.version += 1
    second.mod = stamp()
    store.put(second, break_before=not in_page)
    where = "twice on one page" if in_page else "last on one page and first on the next"
    return InjectedRecord(
        kind,
        case,
        entry.record_id,
        "apply",
        f"id {entry.record_id} is served {where}; the second (newer modifiedOn) must win",
        format_ticks(second.mod),
    )
