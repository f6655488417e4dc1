"""Counters: enough to prove a client fetched no page twice, and what it was served."""

from __future__ import annotations

import json

import httpx

from sandbox import Sandbox

from .conftest import EXPORT_PATHS, T1, T2, auth_headers, export_all


async def test_clean_export_fetches_each_page_once(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    _, pages, _ = await export_all(client, "invoices", headers)
    counters = sandbox.counters
    assert counters.refetched() == {} and counters.refetched(served=False) == {}
    assert counters.fetches(T1, "export_invoices", "") == 1
    for page in pages[:-1]:
        assert counters.fetches(T1, "export_invoices", page["continueFrom"]) == 1
    assert counters.requests["export_invoices"] == len(pages)
    assert counters.requests_by_tenant[(T1, "export_invoices")] == len(pages)
    assert counters.records_served[(T1, "export_invoices")] == 400
    assert counters.token_requests == counters.tokens_issued == 1
    assert counters.statuses[200] == len(pages) + 1


async def test_a_refetched_page_is_visible(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["customers"].format(t=T1)
    first = (await client.get(url, headers=headers)).json()
    for _ in range(2):
        await client.get(url, params={"from": first["continueFrom"]}, headers=headers)
    assert sandbox.counters.refetched(T1, "export_customers") == {
        (T1, "export_customers", first["continueFrom"]): 2
    }
    assert sandbox.counters.refetched(T2) == {}


async def test_faulted_requests_count_as_requested_not_served(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["contacts"].format(t=T1)
    sandbox.set_faults(error_rate=1.0, error_statuses=(503,))
    assert (await client.get(url, headers=headers)).status_code == 503
    sandbox.set_faults(error_rate=0.0, truncate_rate=1.0)
    assert (await client.get(url, headers=headers)).status_code == 200
    sandbox.reset_faults()
    assert (await client.get(url, headers=headers)).status_code == 200
    key = (T1, "export_contacts", "")
    sandbox.force_429(count=1)
    assert (await client.get(url, headers=headers)).status_code == 429
    assert sandbox.counters.page_requests[key] == 4
    assert sandbox.counters.pages_served[key] == 1
    assert sandbox.counters.faults["error_503"] == 1
    assert sandbox.counters.refetched(served=False) == {key: 4}
    assert sandbox.counters.refetched() == {}


async def test_list_cursors_and_snapshot(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    url = f"/crm/v2/tenant/{T1}/customers"
    for page in (1, 2, 2):
        await client.get(url, params={"page": page, "pageSize": 10}, headers=headers)
    assert sandbox.counters.refetched(T1, "customers") == {
        (T1, "customers", "page=2&pageSize=10"): 2
    }
    snapshot = sandbox.counters.snapshot()
    json.dumps(snapshot)  # JSON-friendly
    assert snapshot["requests"]["customers"] == 3
    assert {"tenant_id": T1, "endpoint": "customers", "cursor": "page=2&pageSize=10",
            "requested": 2, "served": 2} in snapshot["pages"]  # fmt: skip
    sandbox.counters.reset()
    assert sandbox.counters.snapshot()["requests"] == {}
