"""Fetched pages handed from ``fetch_pages`` to the apply inside one worker process."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities import prepare
from activities.apply import ApplyActivities
from activities.dependencies import SyncDependencies
from activities.fetch import FetchActivities
from activities.page_handoff import HandedPage, PageHandoff, handoff_key
from activities.run_lifecycle import RunActivities
from activities.tokens import TokenActivities
from contracts.sync import ApplyPagesInput, FetchPageInput, RefreshTokenInput, StartRunInput
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness
from tests.sync.test_page_batches import PAGE_SIZE, _begin, _fetch


def test_entries_are_taken_once_and_bounded_by_raw_size() -> None:
    def page(size: int, tag: str = "") -> HandedPage:
        return HandedPage(tag.encode().ljust(size, b" "), [tag] if tag else [])

    handoff = PageHandoff(budget_bytes=100)
    handoff.put(1, page(40, "a"))
    handoff.put(2, page(40, "b"))
    handoff.put(3, page(40, "c"))  # over budget: the oldest entry goes
    assert handoff.take(1) is None
    taken = handoff.take(2)
    assert taken is not None and taken.customer_ids == ["b"]
    assert handoff.take(2) is None
    assert len(handoff) == 1 and handoff.size_bytes == 40
    handoff.put(4, page(101))  # bigger than the whole budget: not kept at all
    assert handoff.take(4) is None
    handoff.put(3, page(10, "d"))  # the same page again replaces its entry
    again = handoff.take(3)
    assert handoff.size_bytes == 0 and again is not None and again.customer_ids == ["d"]


async def test_the_apply_uses_the_fetching_workers_parsed_page_and_falls_back_to_staging(
    harness: SyncHarness,
) -> None:
    here = harness.dependencies()
    credential, context = await _begin(harness, here)
    env = ActivityEnvironment()
    batch = await _fetch(env, FetchActivities(here), credential, context, max_pages=2)
    assert len(here.handoff) == 2
    # Another worker (no handoff) must read the staged body; blank it to tell the paths apart.
    harness.rows(
        "UPDATE servicetitan_staged_pages SET body = NULL WHERE id = %s RETURNING id",
        batch.pages[1].page_id,
    )
    apply = ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, batch.pages)
    other = ApplyActivities(harness.dependencies())
    elsewhere = await env.run(other.map_and_insert_pages, apply)
    assert [r.inserted for r in elsewhere.results] == [PAGE_SIZE] and elsewhere.missing
    # The fetching worker still holds page 2 parsed: its apply needs no staged body.
    applied_here = await env.run(ApplyActivities(here).map_and_insert_pages, apply)
    assert not applied_here.missing
    assert [r.already_applied for r in applied_here.results] == [True, False]
    assert harness.scalar("SELECT count(*) FROM members_stream") == 2 * PAGE_SIZE
    assert len(here.handoff) == 0


def _count_mappings(deps: SyncDependencies, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The streams of the pages mapped from now on (through the mapping pool)."""
    mapped: list[str] = []
    prepare = deps.mapping.prepare

    async def counting(stream: str, *args: Any) -> Any:
        mapped.append(stream)
        return await prepare(stream, *args)

    monkeypatch.setattr(deps.mapping, "prepare", counting)
    return mapped


async def test_a_page_mapped_at_fetch_is_not_mapped_again(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = harness.dependencies()
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    batch = await _fetch(env, FetchActivities(deps), credential, context, max_pages=2)
    mapped = _count_mappings(deps, monkeypatch)
    apply = ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, batch.pages)
    result = await env.run(ApplyActivities(deps).map_and_insert_pages, apply)
    assert [r.inserted for r in result.results] == [PAGE_SIZE, PAGE_SIZE]
    assert mapped == []


async def test_a_page_mapped_at_fetch_is_used_unless_its_row_context_changed(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = harness.dependencies()
    assert deps.mapping.processes > 0  # mapping at fetch needs the mapping process
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    batch = await _fetch(env, FetchActivities(deps), credential, context, max_pages=2)
    handed = [deps.handoff.take(handoff_key(page)) for page in batch.pages]
    assert all(page is not None and page.prepared is not None for page in handed)
    mapped = [await page.prepared for page in handed if page is not None and page.prepared]
    assert [page.mapped for page in mapped] == [PAGE_SIZE, PAGE_SIZE]
    for page_ref, page in zip(batch.pages, handed, strict=True):
        assert page is not None
        deps.handoff.put(handoff_key(page_ref), page)
    # The company's trade changes between the fetch and the apply: the rows must carry the
    # new one, so the mapping made at fetch time (with the old trade) is not used.
    harness.rows(
        "UPDATE companies SET primary_trade = 'Electrical' WHERE id = "
        "(SELECT company_id FROM servicetitan_credentials WHERE id = %s) RETURNING id",
        credential,
    )
    mapped_again = _count_mappings(deps, monkeypatch)
    apply = ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, batch.pages)
    result = await env.run(ApplyActivities(deps).map_and_insert_pages, apply)
    assert [r.inserted for r in result.results] == [PAGE_SIZE, PAGE_SIZE]
    assert mapped_again == ["customers", "customers"]
    trades = harness.rows("SELECT DISTINCT trade FROM members_stream")
    assert trades == [("Electrical",)]


async def test_the_apply_looks_customer_types_up_once_per_batch(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invoice pages another worker fetched are mapped together: one lookup for all."""
    fetcher = harness.dependencies()
    credential = await harness.add_tenant(TENANT)
    env = ActivityEnvironment()
    context = await env.run(
        RunActivities(fetcher).start_run,
        StartRunInput(credential, "invoices", "manual", "full", None, "types", "run"),
    )
    await env.run(TokenActivities(fetcher).refresh_token, RefreshTokenInput(credential))
    batch = await env.run(
        FetchActivities(fetcher).fetch_pages,
        FetchPageInput(credential, context.sync_log_id, "invoices", None, max_pages=3),
    )
    lookups: list[list[str]] = []
    lookup = prepare.customer_types  # type: ignore[attr-defined]

    async def counting(connection: Any, company: int, tenant: str, ids: list[str]) -> Any:
        lookups.append(ids)
        return await lookup(connection, company, tenant, ids)

    monkeypatch.setattr(prepare, "customer_types", counting)
    apply = ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, batch.pages)
    other = ApplyActivities(harness.dependencies())  # reads the pages from staging
    result = await env.run(other.map_and_insert_pages, apply)
    assert [r.inserted for r in result.results] == [PAGE_SIZE] * 3
    customers = harness.rows("SELECT DISTINCT customer_id FROM invoices_stream")
    assert len(lookups) == 1  # for the three pages' customers at once
    assert sorted(lookups[0]) == sorted(str(customer) for (customer,) in customers)
