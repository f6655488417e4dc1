"""The paged list endpoints: paging, defaults, filters, validation, lookups."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox import Sandbox

from .conftest import T1, auth_headers, ticks

INVOICES = f"/accounting/v2/tenant/{T1}/invoices"
CUSTOMERS = f"/crm/v2/tenant/{T1}/customers"


async def page_through(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    envelopes: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(url, params={**params, "page": page}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body["data"])
        envelopes.append({k: v for k, v in body.items() if k != "data"})
        if not body["hasMore"]:
            return records, envelopes
        page += 1


async def test_customers_default_to_active_only(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    everyone = {c["id"]: c for c in sandbox.customers(T1)}
    active, envelopes = await page_through(client, CUSTOMERS, headers, pageSize=40)
    assert [c["id"] for c in active] == sorted(i for i, c in everyone.items() if c["active"])
    assert envelopes[0]["pageSize"] == 40 and envelopes[0]["totalCount"] is None
    any_, _ = await page_through(client, CUSTOMERS, headers, pageSize=40, active="Any")
    assert sorted(c["id"] for c in any_) == sorted(everyone)
    inactive, _ = await page_through(client, CUSTOMERS, headers, active="false")
    assert inactive and all(not c["active"] for c in inactive)
    assert len(active) + len(inactive) == len(everyone)
    assert all(c == everyone[c["id"]] for c in any_)


async def test_invoices_active_state(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    everyone = list(sandbox.invoices(T1))
    default, _ = await page_through(client, INVOICES, headers, pageSize=5000)
    assert len(default) == sum(r["active"] for r in everyone)
    all_, _ = await page_through(client, INVOICES, headers, pageSize=5000, activeState="All")
    assert sorted(r["id"] for r in all_) == sorted(r["id"] for r in everyone)
    inactive, _ = await page_through(client, INVOICES, headers, activeState="InactiveOnly")
    assert inactive and not any(r["active"] for r in inactive)
    bad = await client.get(INVOICES, params={"activeState": "Some"}, headers=headers)
    assert bad.status_code == 400


async def test_paging_to_the_end_serves_each_record_once(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    records, envelopes = await page_through(
        client, INVOICES, headers, pageSize=37, activeState="All", includeTotal="true"
    )
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 400
    assert ids == sorted(ids)
    assert [e["page"] for e in envelopes] == list(range(1, 12))
    assert all(e["totalCount"] == 400 for e in envelopes)
    assert [e["hasMore"] for e in envelopes] == [True] * 10 + [False]
    beyond = await client.get(
        INVOICES, params={"page": 99, "pageSize": 37, "activeState": "All"}, headers=headers
    )
    assert beyond.json()["data"] == [] and beyond.json()["hasMore"] is False


async def test_page_size_limits(client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    default = await client.get(INVOICES, headers=headers)
    assert default.json()["pageSize"] == 50 and len(default.json()["data"]) == 50
    ok = await client.get(INVOICES, params={"pageSize": 5000}, headers=headers)
    assert ok.status_code == 200
    for params in ({"pageSize": 5001}, {"pageSize": 0}, {"page": 0}, {"page": "x"}):
        response = await client.get(INVOICES, params=params, headers=headers)
        assert response.status_code == 400, params
        assert response.json()["errors"]


async def test_modified_range_filters(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    everyone = list(sandbox.invoices(T1))
    pivot = everyone[200]["modifiedOn"]
    upper = everyone[300]["modifiedOn"]
    records, _ = await page_through(
        client,
        INVOICES,
        headers,
        activeState="All",
        pageSize=1000,
        modifiedOnOrAfter=pivot,
        modifiedBefore=upper,
    )
    low, high = ticks(pivot), ticks(upper)
    expected = sorted(r["id"] for r in everyone if low <= ticks(r["modifiedOn"]) < high)
    assert sorted(r["id"] for r in records) == expected
    assert 90 <= len(expected) <= 110
    # Changed records move: their new modifiedOn is what the filter sees.
    summary = sandbox.mutate(T1, modify=5, kinds=("invoices",))
    recent, _ = await page_through(
        client, INVOICES, headers, activeState="All", modifiedOnOrAfter=summary.first_modified_on
    )
    assert {r["id"] for r in recent} == summary.invoices.ids()
    bad = await client.get(INVOICES, params={"modifiedOnOrAfter": "soon"}, headers=headers)
    assert bad.status_code == 400


async def test_unknown_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    plain = (await client.get(CUSTOMERS, headers=headers)).json()
    odd = await client.get(
        CUSTOMERS, params={"modifiedSince": "2099-01-01", "updatedSince": "x"}, headers=headers
    )
    assert odd.status_code == 200 and odd.json() == plain


async def test_sort_and_ids(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    desc = (
        await client.get(CUSTOMERS, params={"sort": "-Id", "active": "Any"}, headers=headers)
    ).json()["data"]
    assert [c["id"] for c in desc] == sorted((c["id"] for c in desc), reverse=True)
    assert desc[0]["id"] == max(c["id"] for c in sandbox.customers(T1))
    sandbox.mutate(T1, modify=3, kinds=("customers",))
    # "+" arrives as a space when a client forgets to encode it; both must work.
    for sort in ("+ModifiedOn", " ModifiedOn", "modifiedon"):
        by_mod = (
            await client.get(
                CUSTOMERS, params={"sort": sort, "active": "Any", "pageSize": 500}, headers=headers
            )
        ).json()["data"]
        keys = [(ticks(c["modifiedOn"]), c["id"]) for c in by_mod]
        assert keys == sorted(keys)
    assert (
        await client.get(CUSTOMERS, params={"sort": "Name"}, headers=headers)
    ).status_code == 400
    ids = [c["id"] for c in sandbox.customers(T1)][:5]
    chosen = await client.get(
        CUSTOMERS,
        params={"ids": ",".join(map(str, ids)), "active": "Any"},
        headers=headers,
    )
    assert [c["id"] for c in chosen.json()["data"]] == sorted(ids)
    too_many = ",".join(str(i) for i in range(51))
    assert (
        await client.get(CUSTOMERS, params={"ids": too_many}, headers=headers)
    ).status_code == 400


async def test_customer_lookup(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    customer = list(sandbox.customers(T1))[17]
    response = await client.get(f"{CUSTOMERS}/{customer['id']}", headers=headers)
    assert response.status_code == 200 and response.json() == customer
    missing = await client.get(f"{CUSTOMERS}/1", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["title"] == "Customer not found"


async def test_contact_lists(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    contacts = list(sandbox.contacts(T1))
    needs_filter = await client.get(f"{CUSTOMERS}/contacts", headers=headers)
    assert needs_filter.status_code == 400
    owner = next(c["customerId"] for c in contacts if c["active"])
    bulk = await client.get(
        f"{CUSTOMERS}/contacts", params={"customerIds": str(owner)}, headers=headers
    )
    expected = sorted(c["id"] for c in contacts if c["customerId"] == owner and c["active"])
    assert [c["id"] for c in bulk.json()["data"]] == expected
    assert all("active" not in c and c["customerId"] == owner for c in bulk.json()["data"])
    one = await client.get(f"{CUSTOMERS}/{owner}/contacts", headers=headers)
    assert [c["id"] for c in one.json()["data"]] == expected
    assert all("customerId" not in c for c in one.json()["data"])
    since = await client.get(
        f"{CUSTOMERS}/contacts",
        params={"modifiedOnOrAfter": "2000-01-01", "pageSize": 5000},
        headers=headers,
    )
    assert len(since.json()["data"]) == sum(c["active"] for c in contacts)
    missing = await client.get(f"{CUSTOMERS}/1/contacts", headers=headers)
    assert missing.status_code == 404
