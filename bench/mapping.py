"""Measure the mapping throughput of each stream (``records.pipeline``) on one core.

    python -m bench.mapping [--records 50000] [--page-size 1000] [--repeat 5]

Synthetic records are shaped like real exports (every field the schema lists, a few invoice
lines, a mix of residential and commercial names, some nulls). The figure reported is the best
of ``--repeat`` runs of ``map_invoices``/``map_customers``/``map_contacts`` over pages of
``--page-size``; JSON parsing is measured separately (``orjson.loads`` of the same pages).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from records.pipeline import MappedPage, map_contacts, map_customers, map_invoices

_FIRST = ["John", "Mary", "José", "Anne-Marie", "Li", "Robert", "Søren", "Aisha", "Patrick"]
_LAST = ["Smith", "O'Brien", "de la Cruz", "Nguyen", "Müller", "van der Berg", "Johnson Jr."]
_COMPANIES = ["ABC Plumbing LLC", "Acme Property Management", "First Baptist Church"]


def _person(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return f"{last}, {first}" if rng.random() < 0.3 else f"{first} {last}"


def _timestamp(rng: random.Random) -> str:
    return (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
        f"{rng.randint(0, 9_999_999):07d}Z"
    )


def _money(rng: random.Random) -> str:
    return f"{rng.randint(0, 500_000) / 100:.2f}"


def _address(rng: random.Random) -> dict[str, Any]:
    return {
        "street": f"{rng.randint(1, 9999)} Main St",
        "unit": None,
        "city": "Austin",
        "state": "TX",
        "zip": f"{rng.randint(10000, 99999)}",
        "country": "USA",
    }


def _invoice_item(rng: random.Random, item_id: int) -> dict[str, Any]:
    return {
        "id": item_id,
        "description": "<p>Replaced capacitor</p>",
        "quantity": "1.00",
        "cost": _money(rng),
        "totalCost": _money(rng),
        "price": _money(rng),
        "type": "Service",
        "skuName": "CAP-45",
        "skuId": rng.randint(1, 10_000),
        "total": _money(rng),
        "inventory": False,
        "taxable": True,
        "isChargeable": True,
        "generalLedgerAccount": {"id": 1, "name": "Income", "number": "4000", "type": "Income"},
        "membershipTypeId": 0,
        "displayName": "Capacitor",
        "soldHours": 1.5,
        "createdOn": _timestamp(rng),
        "modifiedOn": _timestamp(rng),
        "order": 1,
        "addOn": False,
    }


def fake_invoice(rng: random.Random, invoice_id: int) -> dict[str, Any]:
    """One export invoice with every schema field present."""
    name = rng.choice(_COMPANIES) if rng.random() < 0.2 else _person(rng)
    return {
        "id": invoice_id,
        "syncStatus": "Pending",
        "budgetCodeId": None,
        "referenceNumber": str(invoice_id),
        "invoiceDate": "2024-07-19T00:00:00Z",
        "dueDate": "2024-08-18T00:00:00Z",
        "subTotal": _money(rng),
        "salesTax": _money(rng),
        "salesTaxCode": {"id": 5, "name": "TX", "taxRate": 0.0825},
        "taxZoneId": None,
        "total": _money(rng),
        "balance": rng.choice(["0.00", _money(rng)]),
        "discountTotal": "0.00",
        "invoiceType": {"id": 1, "name": "Service"},
        "customer": {"id": rng.randint(1, 10**9), "name": name},
        "customerAddress": _address(rng),
        "location": {"id": rng.randint(1, 10**9), "name": name},
        "locationAddress": _address(rng),
        "businessUnit": {"id": 7, "name": "HVAC Service"},
        "termName": "Due Upon Receipt",
        "createdBy": "admin",
        "batch": {"id": 9, "number": "100", "name": "July"},
        "depositedOn": None,
        "createdOn": _timestamp(rng),
        "modifiedOn": _timestamp(rng),
        "adjustmentToId": None,
        "job": {
            "id": rng.randint(1, 10**9),
            "number": str(rng.randint(1, 10**6)),
            "type": "Repair",
        },
        "projectId": None,
        "royalty": {"status": "Pending", "date": None, "sentOn": None, "memo": None},
        "employeeInfo": {"id": 4, "name": "Tech", "modifiedOn": _timestamp(rng)},
        "commissionEligibilityDate": None,
        "sentStatus": "NotSent",
        "reviewStatus": "NeedsReview",
        "assignedTo": None,
        "summary": "<p>Fixed the AC</p>",
        "items": [_invoice_item(rng, invoice_id * 10 + n) for n in range(rng.randint(0, 5))],
        "customFields": [{"name": "Source", "value": "Web"}],
        "active": True,
        "importId": None,
        "exportId": None,
        "materialSkuId": None,
        "membershipId": None,
        "paidOn": None,
        "invoiceConfiguration": "JobInvoice",
    }


def fake_customer(rng: random.Random, customer_id: int) -> dict[str, Any]:
    """One export customer with every schema field present."""
    commercial = rng.random() < 0.2
    return {
        "id": customer_id,
        "active": True,
        "name": rng.choice(_COMPANIES) if commercial else _person(rng),
        "type": "Commercial" if commercial else "Residential",
        "address": {**_address(rng), "latitude": 30.27, "longitude": -97.74},
        "customFields": [{"typeId": 1, "name": "Source", "value": "Web"}],
        "balance": rng.randint(0, 500_000) / 100,
        "taxExempt": False,
        "tagTypeIds": [1, 2],
        "doNotMail": False,
        "doNotService": False,
        "nationalAccount": False,
        "createdOn": _timestamp(rng),
        "createdById": 1,
        "modifiedOn": _timestamp(rng),
        "mergedToId": None,
        "paymentTermId": None,
        "creditLimit": None,
        "creditLimitBalance": None,
        "externalData": None,
    }


def fake_contact(rng: random.Random, contact_id: int) -> dict[str, Any]:
    """One export customer contact with every schema field present."""
    kind = rng.choice(["Phone", "MobilePhone", "Email", "Fax"])
    value = "someone@example.com" if kind == "Email" else f"512555{rng.randint(0, 9999):04d}"
    return {
        "id": contact_id,
        "type": kind,
        "value": value,
        "memo": None,
        "phoneSettings": {"phoneNumber": value, "doNotText": False} if kind != "Email" else None,
        "preferences": None,
        "createdOn": _timestamp(rng),
        "modifiedOn": _timestamp(rng),
        "customerId": rng.randint(1, 10**9),
        "active": rng.random() < 0.9,
    }


def _pages(
    make: Callable[[random.Random, int], dict[str, Any]], records: int, page_size: int
) -> list[bytes]:
    rng = random.Random(7)
    raw = [make(rng, record_id) for record_id in range(1, records + 1)]
    return [orjson.dumps(raw[start : start + page_size]) for start in range(0, records, page_size)]


def _map_seconds(pages: list[bytes], map_page: Callable[[Sequence[Any]], object]) -> float:
    """Seconds spent in ``map_page`` over all pages, parsing each page just before (untimed)."""
    total = 0.0
    for page in pages:
        records = orjson.loads(page)
        started = time.process_time()
        map_page(records)
        total += time.process_time() - started
    return total


def _loads_seconds(pages: list[bytes]) -> float:
    started = time.process_time()
    for page in pages:
        orjson.loads(page)
    return time.process_time() - started


def measure(records: int, page_size: int, repeat: int) -> list[tuple[str, float, float]]:
    """(stream, mapped records/s, orjson.loads records/s) for each stream, best of ``repeat``.

    Pages are parsed and mapped one at a time and then dropped, as the sync does, so the heap
    (and the garbage collector's work) stays the size of one page.
    """
    streams: list[tuple[str, Callable[..., Any], Callable[[Sequence[Any]], MappedPage[Any]]]] = [
        ("invoices", fake_invoice, map_invoices),
        ("customers", fake_customer, map_customers),
        ("contacts", fake_contact, map_contacts),
    ]
    results = []
    for name, make, map_page in streams:
        pages = _pages(make, records, page_size)
        mapped = sum(map_page(orjson.loads(page)).mapped for page in pages)
        assert mapped == records, f"benchmark data must all map ({mapped} of {records})"
        mapping = min(_map_seconds(pages, map_page) for _ in range(repeat))
        parsing = min(_loads_seconds(pages) for _ in range(repeat))
        results.append((name, records / mapping, records / parsing))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    print(f"{arguments.records} records per stream, pages of {arguments.page_size}, best of "
          f"{arguments.repeat}")  # fmt: skip
    for name, mapping, parsing in measure(arguments.records, arguments.page_size, arguments.repeat):
        print(
            f"{name:10} map {mapping:>10,.0f} records/s   orjson.loads {parsing:>10,.0f} records/s"
        )


if __name__ == "__main__":
    main()
