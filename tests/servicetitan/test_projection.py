"""Pages decoded with only the mapped fields give what a full decode gives, or decline.

The sandbox's own export pages (with its injected bad records) are decoded both ways; a page
prepared through the projection must be the page prepared from a full decode, rejects and
the records the rejects table keeps included.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

import servicetitan.projection as projection_module
from records.prepared import PreparedPage, prepare_page
from sandbox import Sandbox, create_app
from sandbox.generate import Kind
from servicetitan.models import ContactMappedFields, CustomerMappedFields, InvoiceMappedFields
from servicetitan.pages import ExportStream
from servicetitan.projection import declared_keys, invoice_customer_ids, projected_records
from tests.records.test_mapping_pool import _same as same_prepared_page
from tests.sandbox.conftest import BASE_URL, EXPORT_PATHS, T1, auth_headers, small_config

STREAMS: list[tuple[Kind, ExportStream, Any]] = [
    ("invoices", ExportStream.INVOICES, InvoiceMappedFields),
    ("customers", ExportStream.CUSTOMERS, CustomerMappedFields),
    ("contacts", ExportStream.CUSTOMER_CONTACTS, ContactMappedFields),
]
PREFIX = (7, "INT-7", "plumbing", 42, "1001")


async def _pages(sandbox: Sandbox, kind: Kind) -> list[bytes]:
    """Every export page of the feed, as the bytes the sandbox served."""
    transport = httpx.ASGITransport(app=create_app(sandbox))
    pages: list[bytes] = []
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        headers = await auth_headers(client)
        token: str | None = None
        while True:
            params = {"from": token} if token is not None else {}
            response = await client.get(
                EXPORT_PATHS[kind].format(t=T1), params=params, headers=headers
            )
            assert response.status_code == 200, response.text
            pages.append(response.content)
            body = json.loads(response.content)  # the standard library takes lone surrogates
            if not body["hasMore"]:
                return pages
            token = body["continueFrom"]


def _filtered(raw: bytes, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{k: v for k, v in record.items() if k in keys} for record in orjson.loads(raw)["data"]]


@pytest.mark.parametrize(("kind", "stream", "model"), STREAMS, ids=[s[0] for s in STREAMS])
async def test_clean_pages_decode_to_the_mapped_fields_of_the_full_decode(
    kind: Kind, stream: ExportStream, model: Any
) -> None:
    pages = await _pages(Sandbox(small_config()), kind)
    assert len(pages) > 1
    keys = declared_keys(model)
    for raw in pages:
        projected = projected_records(stream, raw)
        assert projected is not None
        assert projected == _filtered(raw, keys)
        assert all(set(record) <= set(keys) for record in projected)


def test_the_declared_keys_are_the_api_spellings() -> None:
    assert "modifiedOn" in declared_keys(InvoiceMappedFields)
    assert "customerAddress" in declared_keys(InvoiceMappedFields)
    assert "items" not in declared_keys(InvoiceMappedFields)  # lines are never mapped
    assert "customerId" in declared_keys(ContactMappedFields)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"id": 1}, "not an object"], "hasMore": false}',
        b'{"data": [{"id": 1, "referenceNumber": "\\ud800"}], "hasMore": false}',
        b'{"data": [{"id": 1, "total": 1e400}], "hasMore": false}',
        b'{"data": null, "hasMore": false}',
        b'{"hasMore": false}',
        b'{"data": [{"id": 1}], "hasMore": fal',
        b"[]",
    ],
    ids=["non-object", "lone-surrogate", "beyond-double", "null-data", "no-data", "cut", "array"],
)
def test_unusual_pages_are_left_to_the_full_decode(body: bytes) -> None:
    assert projected_records(ExportStream.INVOICES, body) is None


def test_records_missing_a_field_stay_without_it() -> None:
    body = b'{"data": [{"id": 1, "items": [{"id": 9}]}, {"id": 2, "total": null}]}'
    assert projected_records(ExportStream.INVOICES, body) == [{"id": 1}, {"id": 2, "total": None}]


def _same(left: PreparedPage, right: PreparedPage) -> None:
    same_prepared_page(left, right)
    assert left.rejects == right.rejects  # ids, reasons and the records kept, in full


@pytest.mark.parametrize(("kind", "stream", "model"), STREAMS, ids=[s[0] for s in STREAMS])
async def test_pages_with_bad_records_prepare_as_from_a_full_decode(
    kind: Kind, stream: ExportStream, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox(small_config())
    injected = sandbox.inject_bad_records(T1, kind)
    assert any(record.expect == "reject" for record in injected)
    pages = await _pages(sandbox, kind)
    types = {500: "Commercial"}
    through_projection = [prepare_page(stream.value, raw, types, PREFIX, 2000) for raw in pages]
    assert sum(page.rejected for page in through_projection) > 0
    took_projection = [projected_records(stream, raw) is not None for raw in pages]
    assert any(  # the case this test is for: rejects on a page decoded partially
        took and page.rejected
        for took, page in zip(took_projection, through_projection, strict=True)
    )

    monkeypatch.setattr(projection_module, "projected_records", lambda *args: None)
    in_full = [prepare_page(stream.value, raw, types, PREFIX, 2000) for raw in pages]
    for left, right in zip(through_projection, in_full, strict=True):
        _same(left, right)
    kept = [reject.raw for page in through_projection for reject in page.rejects]
    if kind == "invoices":  # the whole record is quarantined, lines included
        assert all("items" in record for record in kept if isinstance(record, dict))


def _customer_ids_in_full(raw: bytes) -> list[str]:
    ids = set()
    for record in json.loads(raw)["data"]:
        customer = record.get("customer") if isinstance(record, dict) else None
        if isinstance(customer, dict) and type(customer.get("id")) is int:
            ids.add(str(customer["id"]))
    return sorted(ids)


async def test_invoice_customer_ids_are_those_of_the_full_decode() -> None:
    sandbox = Sandbox(small_config())
    sandbox.inject_bad_records(T1, "invoices")
    pages = await _pages(sandbox, "invoices")
    assert all(invoice_customer_ids(raw) == _customer_ids_in_full(raw) for raw in pages)
    assert sum(len(invoice_customer_ids(raw)) for raw in pages) > 10
    # Unusual pages (a non-object record, a lone surrogate) take the full decode.
    odd = b'{"data": [{"customer": {"id": 5}}, 7, {"customer": {"id": "6"}}], "hasMore": false}'
    assert invoice_customer_ids(odd) == ["5"]
    lone = b'{"data": [{"customer": {"id": 8, "name": "\\ud800"}}], "hasMore": false}'
    assert invoice_customer_ids(lone) == ["8"]
    assert invoice_customer_ids(b'{"data": [{"customer": {"id": true}}]}') == []
