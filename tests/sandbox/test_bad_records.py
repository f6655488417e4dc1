"""Injected malformed records: what reaches the wire, and the verdict each one carries."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from sandbox import Sandbox
from sandbox.badrecords import CASES, DUPLICATE_CASES, applicable_cases
from sandbox.generate import Kind

from .conftest import EXPORT_PATHS, T1, auth_headers, export_all


async def raw_pages(
    client: httpx.AsyncClient, kind: Kind, headers: dict[str, str], start: str | None = None
) -> list[bytes]:
    """Every page body of an export, unparsed (some are not valid for strict parsers)."""
    url = EXPORT_PATHS[kind].format(t=T1)
    bodies: list[bytes] = []
    token = start
    while True:
        response = await client.get(url, params={"from": token} if token else {}, headers=headers)
        assert response.status_code == 200
        bodies.append(response.content)
        body = json.loads(response.content)  # the standard library tolerates lone surrogates
        token = body["continueFrom"]
        if not body["hasMore"]:
            return bodies


@pytest.mark.parametrize("kind", ["invoices", "customers", "contacts"])
async def test_every_case_is_served_and_described(
    sandbox: Sandbox, client: httpx.AsyncClient, kind: Kind
) -> None:
    headers = await auth_headers(client)
    _, _, token = await export_all(client, kind, headers)
    injected = sandbox.inject_bad_records(T1, kind)
    assert [r.case for r in injected] == applicable_cases(kind)
    bodies = await raw_pages(client, kind, headers, token)
    served = [r for body in bodies for r in json.loads(body)["data"]]
    # One entry per case, plus the second (newer) occurrence of each duplicate.
    assert len(served) == len(injected) + len(DUPLICATE_CASES)
    for record in injected:
        assert record.expect == (
            "apply" if record.case in DUPLICATE_CASES else CASES[record.case].expect_for(kind)
        )
        assert record.description and record.modified_on
        assert record.as_dict()["kind"] == kind
    without_id = [r for r in injected if r.id is None]
    assert {r.case for r in without_id} == {"missing_id", "wrong_type_id"}
    raw = b"".join(bodies)
    assert b"\\ud800" in raw and b"\\u0000" in raw
    assert any(len(body) > 1_000_000 for body in bodies)
    # orjson (strict) refuses the page with the lone surrogate; json (lenient) does not.
    with pytest.raises(orjson.JSONDecodeError):
        for body in bodies:
            orjson.loads(body)


async def test_expected_state_applies_and_rejects(sandbox: Sandbox) -> None:
    injected = sandbox.inject_bad_records(T1, "invoices")
    expected = sandbox.expected_state(T1, "invoices")
    feed_ids = [r.get("id") for r in sandbox.invoices(T1)]
    for record in injected:
        if record.expect == "reject":
            assert record.id is None or record.id not in expected, record.case
            if record.id is not None:
                assert record.id in feed_ids  # served, but a consumer must not keep it
        else:
            assert record.id in expected, record.case
    duplicate = next(r for r in injected if r.case == "duplicate_in_page")
    assert duplicate.id is not None
    assert feed_ids.count(duplicate.id) == 2
    assert expected[duplicate.id] == sandbox.record(T1, "invoices", duplicate.id)
    assert expected[duplicate.id]["modifiedOn"] == duplicate.modified_on
    huge = next(r for r in injected if r.case == "huge_string")
    assert huge.id is not None
    assert len(expected[huge.id]["summary"]) == 1024 * 1024


async def test_duplicates_land_within_and_across_pages(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    filler = sandbox.mutate(T1, modify=20, kinds=("invoices",))
    injected = sandbox.inject_bad_records(
        T1, "invoices", ["duplicate_in_page", "duplicate_across_pages"]
    )
    within, across = injected
    for start in (None, filler.first_modified_on):
        for page_size in (50, 3):
            sandbox.set_export_page_size(page_size)
            _, pages, _ = await export_all(client, "invoices", headers, start=start)
            holding_within = [p["ids"] for p in pages if within.id in p["ids"]]
            assert len(holding_within) == 1 and holding_within[0].count(within.id) == 2
            holding_across = [i for i, p in enumerate(pages) if across.id in p["ids"]]
            assert len(holding_across) == 2
            first, second = holding_across
            assert second == first + 1
            assert pages[first]["ids"][-1] == across.id and pages[second]["ids"][0] == across.id


def test_unknown_or_unfitting_cases_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.inject_bad_records(T1, "invoices", ["no_such_case"])
    with pytest.raises(ValueError):
        sandbox.inject_bad_records(T1, "contacts", ["absurd_money"])
    with pytest.raises(ValueError):
        sandbox.inject_bad_records(T1, "invoices", ["spec_nulls"])


async def test_bad_records_stay_out_of_lists_and_lookups(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    injected = sandbox.inject_bad_records(T1, "customers", ["lone_surrogate", "huge_string"])
    for record in injected:
        assert record.id is not None
        response = await client.get(f"/crm/v2/tenant/{T1}/customers/{record.id}", headers=headers)
        assert response.status_code == 404
