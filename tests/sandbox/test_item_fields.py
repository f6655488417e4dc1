"""Invoice lines and royalties exercise every field they have (issue 21).

ServiceTitan's ``Accounting.V2.InvoiceItemResponse`` has ~30 optional fields; the sandbox fills
each of them in a realistic share of lines and leaves it null in others, so a consumer meets
both. (That every body still validates against the OpenAPI is tests/sandbox/test_schema.py.)
"""

from __future__ import annotations

from typing import Any

from sandbox import Sandbox, SandboxConfig, TenantSpec
from tests.openapi import load_schemas

NESTED = {
    "generalLedgerAccount": ("id", "name", "number", "type", "detailType"),
    "costOfSaleAccount": ("id", "name", "number", "type", "detailType"),
    "assetAccount": ("id", "name", "number", "type", "detailType"),
    "businessUnit": ("id", "name"),
    "itemGroup": ("rootId", "name"),
}


def _invoices() -> list[dict[str, Any]]:
    sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(2101, 50, 1500)], seed=11))
    return list(sandbox.invoices(2101))


def _item_fields() -> list[str]:
    return list(load_schemas()["Accounting.V2.InvoiceItemResponse"]["properties"])


def _share(values: list[Any]) -> float:
    return sum(value is not None for value in values) / len(values)


def test_every_item_field_is_sometimes_set_and_nullable_ones_sometimes_null() -> None:
    items = [item for invoice in _invoices() for item in invoice["items"] or []]
    assert len(items) > 300
    for field in _item_fields():
        values = [item.get(field) for item in items]
        assert _share(values) > 0, f"items[].{field} is always null"
    for field, subfields in NESTED.items():
        objects = [item[field] for item in items if item.get(field) is not None]
        for subfield in subfields:
            assert _share([o.get(subfield) for o in objects]) > 0, f"{field}.{subfield} never set"
    for field in ("assetAccount", "costOfSaleAccount", "businessUnit", "technicianId",
                  "inventoryLocation", "memberPrice", "estimateItemId"):  # fmt: skip
        share = _share([item.get(field) for item in items])
        assert 0.03 < share < 0.9, (field, share)
    assert {item["type"] for item in items} >= {"Service", "Material", "Equipment"}


def test_royalties_carry_dates_memos_and_sent_times() -> None:
    royalties = [invoice["royalty"] for invoice in _invoices() if invoice.get("royalty")]
    for field in ("status", "date", "sentOn", "memo"):
        share = _share([royalty[field] for royalty in royalties])
        assert 0 < share < 1, (field, share)
    assert all(r["sentOn"] is None for r in royalties if r["status"] != "Sent")
