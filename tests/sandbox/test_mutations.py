"""Change over time: what mutate does to the data and to the feeds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from sandbox import Sandbox, TenantSpec

from .conftest import T1, T2, small_config, ticks


def by_id(records: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in records}


def test_mutate_reports_and_applies_every_kind_of_change(sandbox: Sandbox) -> None:
    before = {
        kind: by_id(sandbox.records(T1, kind)) for kind in ("invoices", "customers", "contacts")
    }
    newest = max(ticks(r["modifiedOn"]) for records in before.values() for r in records.values())
    summary = sandbox.mutate(T1, modify=6, add=4, deactivate=3, merge=2, contacts=12)
    after = {
        kind: by_id(sandbox.records(T1, kind)) for kind in ("invoices", "customers", "contacts")
    }

    for kind in ("invoices", "customers"):
        changes = summary.kind(kind)
        assert len(changes.added) == 4 and len(changes.deactivated) == 3
        assert not set(changes.added) & set(before[kind])
        assert set(after[kind]) == set(before[kind]) | set(changes.added)
        for record_id in changes.deactivated:
            assert before[kind][record_id]["active"] and not after[kind][record_id]["active"]
        for record_id in changes.ids():
            assert ticks(after[kind][record_id]["modifiedOn"]) > newest
        untouched = set(before[kind]) - changes.ids()
        assert all(after[kind][i] == before[kind][i] for i in untouched)
        modified = [i for i in changes.modified if before[kind][i] != after[kind][i]]
        assert len(modified) == len(changes.modified)
    assert len(summary.invoices.modified) == 6
    assert len(summary.customers.merged) == 2
    for merged_id, survivor in summary.customers.merged:
        assert after["customers"][merged_id]["active"] is False
        assert after["customers"][merged_id]["mergedToId"] == survivor
        assert survivor in summary.customers.modified
        assert after["customers"][survivor]["active"] is True
    contacts = summary.contacts
    assert len(contacts.modified) + len(contacts.deactivated) + len(contacts.added) >= 12
    for record_id in contacts.added:
        assert record_id not in before["contacts"] and record_id in after["contacts"]
        assert after["contacts"][record_id]["customerId"] in after["customers"]
    for record_id in contacts.deactivated:
        assert after["contacts"][record_id]["active"] is False
    assert summary.first_modified_on and summary.last_modified_on
    assert ticks(summary.first_modified_on) > newest


def test_changed_records_move_to_the_tail_in_change_order(sandbox: Sandbox) -> None:
    first = sandbox.mutate(T1, modify=5, kinds=("invoices",))
    second = sandbox.mutate(T1, modify=5, kinds=("invoices",))
    invoices = list(sandbox.invoices(T1))
    only_first = first.invoices.ids() - second.invoices.ids()
    n = len(only_first)
    tail = [r["id"] for r in invoices[-(n + 5) :]]
    assert set(tail[:n]) == only_first
    assert set(tail[n:]) == second.invoices.ids()
    assert len({r["id"] for r in invoices}) == len(invoices) == 400


def test_a_record_changed_twice_appears_once_at_its_latest_place() -> None:
    sandbox = Sandbox(small_config(tenants=[TenantSpec.make(5, 3, 3)]))
    for _ in range(6):
        sandbox.mutate(5, modify=2, kinds=("customers",))
    ids = [r["id"] for r in sandbox.customers(5)]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 3


def test_ties_in_the_tail(sandbox: Sandbox) -> None:
    sandbox.mutate(T1, modify=60, kinds=("invoices",))
    tail = list(sandbox.invoices(T1))[-60:]
    stamps = [r["modifiedOn"] for r in tail]
    assert len(set(stamps)) < len(stamps)


def test_mutations_are_deterministic() -> None:
    a, b = Sandbox(small_config()), Sandbox(small_config())
    for sandbox in (a, b):
        sandbox.mutate(T1, modify=5, add=2, merge=1, contacts=4)
        sandbox.mutate(T2, deactivate=2)
    assert list(a.customers(T1)) == list(b.customers(T1))
    assert list(a.contacts(T1)) == list(b.contacts(T1))
    assert a.mutate(T1, modify=3).as_dict() == b.mutate(T1, modify=3).as_dict()
    c = Sandbox(small_config())
    assert (
        c.mutate(T1, modify=3, seed=9).as_dict()
        != Sandbox(small_config()).mutate(T1, modify=3).as_dict()
    )


def test_invalid_mutations(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.mutate(T1, modify=-1)
    with pytest.raises(ValueError):
        sandbox.mutate(T1, modify=1, kinds=("contacts",))
    with pytest.raises(KeyError):
        sandbox.mutate(4040, modify=1)


def test_reset_returns_to_the_seeded_state(sandbox: Sandbox) -> None:
    seeded = list(sandbox.customers(T1))
    sandbox.mutate(T1, modify=5, add=5, merge=2)
    sandbox.set_faults(error_rate=1.0)
    sandbox.revoke("cid.sandbox-1001")
    sandbox.reset()
    assert list(sandbox.customers(T1)) == seeded
    assert sandbox.faults.settings.error_rate == 0 and not sandbox.faults.revoked


def test_added_customers_can_get_invoices_and_contacts(sandbox: Sandbox) -> None:
    summary = sandbox.mutate(T1, add=30, kinds=("customers", "invoices"))
    customers = by_id(sandbox.customers(T1))
    for invoice_id in summary.invoices.added:
        invoice = sandbox.record(T1, "invoices", invoice_id)
        assert invoice is not None
        assert invoice["customer"] is None or invoice["customer"]["id"] in customers
    contacts = list(sandbox.contacts(T1))
    owners = {c["customerId"] for c in contacts}
    assert owners & set(summary.customers.added)
