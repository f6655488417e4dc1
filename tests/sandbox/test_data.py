"""The generated data: deterministic, consistent, and as nasty as real ServiceTitan data."""

from __future__ import annotations

import re
import tracemalloc
from collections import defaultdict
from decimal import Decimal
from typing import Any

import orjson
import pytest

from sandbox import Sandbox, SandboxConfig, TenantSpec, vocab
from sandbox.generate import KINDS
from sandbox.timefmt import format_ticks, parse_timestamp

from .conftest import T1, T2, small_config, ticks

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00Z$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def data() -> Sandbox:
    config = SandboxConfig(
        tenants=[TenantSpec.make(T1, 600, 2000), TenantSpec.make(T2, 30, 60)],
        export_page_size=100,
    )
    return Sandbox(config)


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    a, b = Sandbox(small_config()), Sandbox(small_config())
    c = Sandbox(small_config(seed=43))
    for kind in KINDS:
        page_a = a.export_page(T1, kind, None).body
        assert page_a == b.export_page(T1, kind, None).body
        assert page_a != c.export_page(T1, kind, None).body
    assert list(a.invoices(T1)) == list(b.invoices(T1))


def test_ids_unique_per_tenant_and_overlapping_across_tenants(data: Sandbox) -> None:
    ids = {t: [r["id"] for r in data.customers(t)] for t in (T1, T2)}
    for t in (T1, T2):
        assert len(ids[t]) == len(set(ids[t]))
    # Ids are only unique within a tenant, as in ServiceTitan: natural keys need the tenant.
    assert set(ids[T1]) & set(ids[T2])


def test_export_order_is_modified_on_then_id_with_ties(data: Sandbox) -> None:
    for kind in KINDS:
        keys = [(ticks(r["modifiedOn"]), r["id"]) for r in data.records(T1, kind)]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys)
        times = [k[0] for k in keys]
        assert len(set(times)) < len(times), f"{kind}: no ties on modifiedOn"


def test_ties_straddle_export_page_boundaries(data: Sandbox) -> None:
    invoices = list(data.invoices(T1))
    size = data.export_page_size
    straddling = [
        k for k in range(size, len(invoices), size)
        if invoices[k - 1]["modifiedOn"] == invoices[k]["modifiedOn"]
    ]  # fmt: skip
    assert len(straddling) == len(range(size, len(invoices), size))


def test_timestamps_and_money_formats(data: Sandbox) -> None:
    fractions = set()
    for record in data.invoices(T1):
        for field in ("createdOn", "modifiedOn"):
            assert TIMESTAMP.match(record[field]), record[field]
            fraction = record[field][20:-1] if "." in record[field] else ""
            fractions.add(len(fraction))
        for field in ("invoiceDate", "dueDate"):
            assert record[field] is None or MIDNIGHT.match(record[field])
        for field in ("subTotal", "salesTax", "total", "balance"):
            assert record[field] is None or MONEY.match(record[field]), record[field]
        assert ticks(record["createdOn"]) <= ticks(record["modifiedOn"])
    # Mostly 7 digits, as .NET writes them, with trailing zeros dropped now and then.
    assert 7 in fractions and fractions & {0, 1, 2, 3, 4, 5, 6}


def test_money_is_nasty(data: Sandbox) -> None:
    totals = [r["total"] for r in data.invoices(T1)]
    assert "0.00" in totals
    assert any(t is not None and t.startswith("-") for t in totals)
    assert any(t is not None and Decimal(t) > 10_000 for t in totals)
    assert None in totals
    balances = [r["balance"] for r in data.customers(T1)]
    assert all(isinstance(b, int | float) and not isinstance(b, bool) for b in balances)
    assert any(b < 0 for b in balances) and 0 in balances


def test_every_nullable_invoice_field_family_has_nulls(data: Sandbox) -> None:
    seen_null: dict[str, bool] = defaultdict(bool)
    seen_value: dict[str, bool] = defaultdict(bool)
    for record in data.invoices(T1):
        for field, value in record.items():
            if value is None:
                seen_null[field] = True
            else:
                seen_value[field] = True
        address = record["customerAddress"]
        if address:
            for field, value in address.items():
                (seen_null if value is None else seen_value)[f"customerAddress.{field}"] = True
    families = [
        "customer", "customerAddress", "customerAddress.city", "customerAddress.zip",
        "customerAddress.unit", "job", "businessUnit", "invoiceDate", "dueDate", "subTotal",
        "salesTax", "total", "balance", "referenceNumber", "items", "summary", "location",
        "locationAddress", "salesTaxCode", "batch", "paidOn", "adjustmentToId", "termName",
    ]  # fmt: skip
    for field in families:
        assert seen_null[field] and seen_value[field], field
    assert any(r["items"] == [] for r in data.invoices(T1))


def test_invoices_reference_real_customers_of_their_tenant(data: Sandbox) -> None:
    customers = {r["id"]: r for r in data.customers(T1)}
    created = {i: ticks(r["createdOn"]) for i, r in customers.items()}
    referenced = 0
    for invoice in data.invoices(T1):
        customer = invoice["customer"]
        if customer is None:
            continue
        referenced += 1
        assert customer["id"] in customers
        assert customer["name"] == customers[customer["id"]]["name"]
        address = invoice["customerAddress"]
        if address is not None:
            assert address["street"] == customers[customer["id"]]["address"]["street"]
        assert created[customer["id"]] is not None
    assert referenced > 1900
    adjustments = [r for r in data.invoices(T1) if r["adjustmentToId"] is not None]
    invoice_ids = {r["id"] for r in data.invoices(T1)}
    assert adjustments and all(r["adjustmentToId"] in invoice_ids for r in adjustments)
    assert {r["job"]["type"] for r in data.invoices(T1) if r["job"]} & set(vocab.JOB_TYPES)
    assert all(r["businessUnit"]["name"] for r in data.invoices(T1) if r["businessUnit"])


def test_customer_names_are_nasty(data: Sandbox) -> None:
    customers = list(data.customers(T1))
    residential = [c["name"] for c in customers if c["type"] == "Residential"]
    commercial = [c["name"] for c in customers if c["type"] == "Commercial"]
    assert any(", " in n for n in residential), "Last, First"
    assert any(" " not in n.strip() for n in residential), "single-word names"
    assert any(not n.isascii() for n in residential), "unicode"
    assert any("'" in n for n in residential), "apostrophes"
    assert any(n != n.strip() or "  " in n for n in residential), "stray whitespace"
    assert any(", LLC" in n or ", Inc." in n for n in commercial), "a comma that is not Last, First"
    assert any(c["address"]["unit"] is None for c in customers)
    assert any(c["address"]["latitude"] is None for c in customers)
    assert any(c["address"]["zip"] == "" for c in customers)
    assert any(c["address"]["country"] == "" for c in customers)


def test_inactive_and_merged_customers(data: Sandbox) -> None:
    customers = {c["id"]: c for c in data.customers(T1)}
    merged = [c for c in customers.values() if c["mergedToId"] is not None]
    inactive = [c for c in customers.values() if not c["active"] and c["mergedToId"] is None]
    assert merged and inactive
    for c in merged:
        assert c["active"] is False
        survivor = customers[c["mergedToId"]]
        assert survivor["active"] is True and survivor["mergedToId"] is None
        assert survivor["id"] < c["id"]


def test_contacts_exercise_the_primary_contact_rule(data: Sandbox) -> None:
    by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for contact in data.contacts(T1):
        by_customer[contact["customerId"]].append(contact)
    customers = [c["id"] for c in data.customers(T1)]
    assert set(by_customer) <= set(customers)
    assert any(c not in by_customer for c in customers), "customers with no contacts"
    types = {c["type"] for cs in by_customer.values() for c in cs}
    assert types == {"Phone", "MobilePhone", "Email", "Fax"}

    def phones(cs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(
            (c for c in cs if c["type"] in ("Phone", "MobilePhone")), key=lambda c: c["id"]
        )

    inactive_lowest_phone = [
        cs for cs in by_customer.values()
        if len(phones(cs)) > 1 and not phones(cs)[0]["active"] and phones(cs)[1]["active"]
    ]  # fmt: skip
    assert inactive_lowest_phone, "an inactive low-id phone before an active one"
    several_active_phones = [
        cs for cs in by_customer.values() if sum(c["active"] for c in phones(cs)) > 1
    ]
    assert several_active_phones
    emails = [
        cs for cs in by_customer.values()
        if [c["active"] for c in sorted(cs, key=lambda c: c["id"]) if c["type"] == "Email"]
        == [False, True]
    ]  # fmt: skip
    assert emails, "an inactive low-id email before an active one"
    for contacts in by_customer.values():
        ids = [c["id"] for c in contacts]
        assert len(ids) == len(set(ids))
    for contact in data.contacts(T1):
        if contact["type"] == "Email":
            assert "@" in contact["value"]
        else:
            assert contact["phoneSettings"]["phoneNumber"].isdigit()


def test_vocabulary_needs_no_json_escaping_where_written_raw() -> None:
    """Street lines are spliced into invoice JSON without escaping."""
    for word in (*vocab.STREET_NAMES, *vocab.STREET_TYPES):
        assert orjson.dumps(word).decode() == f'"{word}"'


def test_timestamp_format_round_trip() -> None:
    assert format_ticks(ticks("2021-07-19T20:35:38.2876004Z")) == "2021-07-19T20:35:38.2876004Z"
    assert format_ticks(ticks("2021-07-19T20:35:38.2800000Z")) == "2021-07-19T20:35:38.28Z"
    assert format_ticks(ticks("2021-07-19T20:35:38Z")) == "2021-07-19T20:35:38Z"
    assert parse_timestamp("2024-01-01T02:00:00.001000+02:00") == parse_timestamp(
        "2024-01-01T00:00:00.001Z"
    )
    assert parse_timestamp("2024-01-01") == parse_timestamp("2024-01-01T00:00:00")
    assert parse_timestamp("2024-02-30") is None
    assert parse_timestamp("yesterday") is None


def test_a_million_records_per_tenant_costs_no_memory() -> None:
    tracemalloc.start()
    try:
        sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(9001, 1_000_000, 1_000_000)]))
        middle = sandbox.export_page(9001, "invoices", "2022-03-01")
        last_page = sandbox.export_page(9001, "invoices", "2025-06-29")
        contacts = sandbox.export_page(9001, "contacts", "2023-01-01")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert middle.count == 1000 and middle.has_more
    assert 0 < last_page.count < 1000 and not last_page.has_more
    assert contacts.count == 1000
    first = orjson.loads(middle.body)["data"][0]
    assert first["modifiedOn"] >= "2022-03-01"
    assert peak < 60 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
