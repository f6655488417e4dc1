"""Export feeds that never end: a cursor cycle (A→B→A) and endless empty pages.

Both are fault knobs, so a consumer's loop guards can be tested against a server that really
misbehaves: every page stays a valid export response, only the paging goes round in circles.
"""

from __future__ import annotations

import httpx
import pytest

from sandbox import Sandbox, endpoints
from sandbox.cursor import parse_from

from .conftest import EXPORT_PATHS, T1, T2, auth_headers

INVOICES = EXPORT_PATHS["invoices"].format(t=T1)
CUSTOMERS = EXPORT_PATHS["customers"].format(t=T1)


async def walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], pages: int
) -> list[tuple[str | None, str, bool, int]]:
    """(from, continueFrom, hasMore, records) of up to ``pages`` pages, following the cursor."""
    seen: list[tuple[str | None, str, bool, int]] = []
    cursor: str | None = None
    for _ in range(pages):
        params = {"from": cursor} if cursor is not None else {}
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.append((cursor, body["continueFrom"], body["hasMore"], len(body["data"])))
        if not body["hasMore"]:
            break
        cursor = body["continueFrom"]
    return seen


async def test_cursor_cycle_leads_back_to_an_earlier_page(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(cursor_cycle_after=2)
    pages = await walk(client, INVOICES, headers, 8)

    assert len(pages) == 8  # never ends: hasMore stays true
    cursors = [page[0] for page in pages]
    # Pages 0 and 1 as usual; from page 2 (from=A) the feed goes A→B→A→B …
    a, b = cursors[2], cursors[3]
    assert a is not None and b is not None and a != b
    assert cursors[2:] == [a, b, a, b, a, b]
    assert all(has_more and count == 50 for _, _, has_more, count in pages)
    assert sandbox.counters.faults["cursor_cycle"] >= 1


async def test_endless_empty_pages_with_an_advancing_cursor(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(empty_pages_after=1)
    pages = await walk(client, INVOICES, headers, 12)

    assert len(pages) == 12
    assert pages[0][3] == 50  # the first page is real
    assert all(has_more and count == 0 for _, _, has_more, count in pages[1:])
    cursors = [page[1] for page in pages]
    assert len(set(cursors)) == len(cursors)  # every page moves the cursor on
    positions = [parse_from("invoices", cursor) for cursor in cursors]
    assert positions == sorted(positions)  # … forwards, as a real token would
    assert sandbox.counters.faults["empty_page"] == 11


async def test_feed_faults_are_scoped_and_reset(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(empty_pages_after=0, endpoints=[endpoints.EXPORT_INVOICES], tenant_id=T1)
    assert (await walk(client, INVOICES, headers, 1))[0][3] == 0
    customers = await walk(client, CUSTOMERS, headers, 1)
    assert customers[0][3] == 50  # another feed: untouched
    other = EXPORT_PATHS["invoices"].format(t=T2)
    assert (await walk(client, other, await auth_headers(client, T2), 1))[0][3] > 0

    sandbox.reset_faults()
    clean = await walk(client, INVOICES, headers, 100)
    assert clean[-1][2] is False  # the feed ends again
    assert sum(page[3] for page in clean) == len(list(sandbox.invoices(T1)))


@pytest.mark.parametrize(
    "knobs",
    [{"cursor_cycle_after": -1}, {"empty_pages_after": -2}],
)
def test_feed_fault_knobs_are_validated(sandbox: Sandbox, knobs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        sandbox.set_faults(**knobs)


async def test_feed_faults_through_the_admin_api(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    response = await client.post("/_sandbox/faults", json={"cursor_cycle_after": 3})
    assert response.status_code == 200
    assert response.json()["settings"]["cursor_cycle_after"] == 3
    response = await client.post("/_sandbox/faults/reset")
    assert response.json()["settings"]["cursor_cycle_after"] is None
