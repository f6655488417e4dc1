"""The export feeds: continueFrom, dates, order, resumption across changes, recent changes."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox import Sandbox
from sandbox.generate import KINDS
from sandbox.timefmt import format_ticks

from .conftest import EXPORT_PATHS, T1, T2, auth_headers, export_all, ticks


async def test_full_export_serves_every_record_once_in_feed_order(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    for kind in KINDS:
        records, pages, _ = await export_all(client, kind, headers)
        truth = list(sandbox.records(T1, kind))
        assert records == truth
        assert len({r["id"] for r in records}) == len(records)
        assert all(p["hasMore"] for p in pages[:-1]) and not pages[-1]["hasMore"]
        assert all(len(p["ids"]) == 50 for p in pages[:-1])
    invoices, pages, _ = await export_all(client, "invoices", headers)
    assert len(invoices) == 400 and len(pages) == 8
    # Inactive and merged records are part of the feed (exports have no filters).
    customers, _, _ = await export_all(client, "customers", headers)
    assert any(not c["active"] for c in customers)
    assert any(c["mergedToId"] for c in customers)


async def test_tenants_are_separate_feeds(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    records, _, _ = await export_all(client, "customers", await auth_headers(client, T2), T2)
    assert records == list(sandbox.customers(T2))
    assert len(records) == 20


async def test_final_token_polls_only_newer_changes(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["invoices"].format(t=T1)
    _, _, token = await export_all(client, "invoices", headers)
    again = (await client.get(url, params={"from": token}, headers=headers)).json()
    assert again["data"] == [] and again["hasMore"] is False
    assert again["continueFrom"] == token  # still usable, still the same position

    summary = sandbox.mutate(T1, modify=4, add=3, deactivate=2)
    changed, _, token2 = await export_all(client, "invoices", headers, start=token)
    assert {r["id"] for r in changed} == summary.invoices.ids()
    stamps = [ticks(r["modifiedOn"]) for r in changed]
    assert stamps == sorted(stamps)
    assert min(stamps) > max(
        ticks(r["modifiedOn"])
        for r in sandbox.invoices(T1)
        if r["id"] not in summary.invoices.ids()
    )
    deactivated = {r["id"]: r for r in changed if r["id"] in summary.invoices.deactivated}
    assert all(r["active"] is False for r in deactivated.values())
    assert token2 != token
    empty = (await client.get(url, params={"from": token2}, headers=headers)).json()
    assert empty["data"] == []


async def test_resuming_mid_export_after_changes_gives_the_current_state(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    """Records changed behind the cursor come again; ahead of it they come once, at the tail."""
    headers = await auth_headers(client)
    url = EXPORT_PATHS["customers"].format(t=T1)
    first = (await client.get(url, headers=headers)).json()
    second = (await client.get(url, params={"from": first["continueFrom"]}, headers=headers)).json()
    seen = first["data"] + second["data"]
    sandbox.mutate(T1, modify=30, add=5, deactivate=5, merge=3, kinds=("customers",))
    rest, _, _ = await export_all(client, "customers", headers, start=second["continueFrom"])
    final: dict[int, dict[str, Any]] = {}
    for record in seen + rest:
        final[record["id"]] = record
    assert final == sandbox.expected_state(T1, "customers")
    seen_ids = {r["id"] for r in seen}
    rest_ids = [r["id"] for r in rest]
    assert len(rest_ids) == len(set(rest_ids)), "a record ahead of the cursor came twice"
    assert set(rest_ids) & seen_ids, "records changed behind the cursor must come again"


async def test_from_accepts_dates_and_iso_timestamps(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    invoices = list(sandbox.invoices(T1))
    pivot = invoices[123]["modifiedOn"]
    pivot_ticks = ticks(pivot)
    assert pivot_ticks is not None
    expected = [r for r in invoices if ticks(r["modifiedOn"]) >= pivot_ticks]
    for value in (
        pivot,
        format_ticks(pivot_ticks).replace("Z", "+00:00"),
        format_ticks(pivot_ticks + 2 * 3600 * 10_000_000).replace("Z", "+02:00"),
    ):
        records, _, _ = await export_all(client, "invoices", headers, start=value)
        assert records == expected, value
    day = pivot[:10]
    records, _, _ = await export_all(client, "invoices", headers, start=day)
    assert records == [r for r in invoices if r["modifiedOn"][:10] >= day]
    # MeltanoLabs-style "+1 ms" resume skips records that share the boundary's modifiedOn.
    later = format_ticks(pivot_ticks + 10_000).replace("Z", "+00:00")
    records, _, _ = await export_all(client, "invoices", headers, start=later)
    assert records == [r for r in invoices if ticks(r["modifiedOn"]) > pivot_ticks]


async def test_date_resume_at_a_page_boundary_loses_or_repeats_tied_records(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    """Why consumers must keep the token: ties on modifiedOn straddle page boundaries."""
    headers = await auth_headers(client)
    url = EXPORT_PATHS["invoices"].format(t=T1)
    first = (await client.get(url, headers=headers)).json()
    second = (await client.get(url, params={"from": first["continueFrom"]}, headers=headers)).json()
    boundary = first["data"][-1]["modifiedOn"]
    assert second["data"][0]["modifiedOn"] == boundary
    inclusive = (await client.get(url, params={"from": boundary}, headers=headers)).json()
    assert inclusive["data"][0]["id"] != second["data"][0]["id"]  # repeats page 1's tail
    assert first["data"][-1]["id"] in [r["id"] for r in inclusive["data"]]


async def test_bad_from_is_a_400_not_a_restart(client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["invoices"].format(t=T1)
    first = (await client.get(url, headers=headers)).json()
    for bad in ("not-a-token", first["continueFrom"][:-2] + "AA", "2024-13-01"):
        response = await client.get(url, params={"from": bad}, headers=headers)
        assert response.status_code == 400, bad
        assert "from" in response.json()["errors"]
    # A token of another feed is rejected too.
    contacts_url = EXPORT_PATHS["contacts"].format(t=T1)
    response = await client.get(
        contacts_url, params={"from": first["continueFrom"]}, headers=headers
    )
    assert response.status_code == 400
    bad_bool = await client.get(url, params={"includeRecentChanges": "maybe"}, headers=headers)
    assert bad_bool.status_code == 400


async def test_unknown_query_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["invoices"].format(t=T1)
    plain = (await client.get(url, headers=headers)).json()
    odd = await client.get(
        url, params={"pageSize": "5", "modifiedSince": "2099-01-01", "x": "y"}, headers=headers
    )
    assert odd.status_code == 200
    assert odd.json() == plain


async def test_include_recent_changes_repeats_recent_records(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["invoices"].format(t=T1)
    _, _, token = await export_all(client, "invoices", headers)
    summary = sandbox.mutate(T1, modify=3, kinds=("invoices",))
    params = {"from": token, "includeRecentChanges": "true"}
    first = (await client.get(url, params=params, headers=headers)).json()
    assert {r["id"] for r in first["data"]} == summary.invoices.ids()
    assert first["hasMore"] is False
    second = (
        await client.get(
            url,
            params={"from": first["continueFrom"], "includeRecentChanges": "true"},
            headers=headers,
        )
    ).json()
    assert [r["id"] for r in second["data"]] == [r["id"] for r in first["data"]]
    # Without the flag the token moves past them.
    plain = (await client.get(url, params={"from": token}, headers=headers)).json()
    after = (await client.get(url, params={"from": plain["continueFrom"]}, headers=headers)).json()
    assert after["data"] == []


async def test_page_size_change_mid_export_still_serves_each_record_once(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["contacts"].format(t=T1)
    first = (await client.get(url, headers=headers)).json()
    sandbox.set_export_page_size(7)
    rest, pages, _ = await export_all(client, "contacts", headers, start=first["continueFrom"])
    assert first["data"] + rest == list(sandbox.contacts(T1))
    assert max(len(p["ids"]) for p in pages) == 7


async def test_an_empty_tenant_feed_still_returns_a_token(client: httpx.AsyncClient) -> None:
    from sandbox import SandboxConfig, TenantSpec, create_app

    sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(77, 1, 0)]))
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        headers = await auth_headers(http, 77)
        body = (await http.get(EXPORT_PATHS["invoices"].format(t=77), headers=headers)).json()
        assert body["data"] == [] and body["hasMore"] is False and body["continueFrom"]
        sandbox.mutate(77, add=2, kinds=("invoices",))
        later = await http.get(
            EXPORT_PATHS["invoices"].format(t=77),
            params={"from": body["continueFrom"]},
            headers=headers,
        )
        assert len(later.json()["data"]) == 2
