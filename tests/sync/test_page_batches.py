"""Several pages per activity: ``fetch_pages`` and ``map_and_insert_pages``, and the workflow.

The batch activities run here in a Temporal ``ActivityEnvironment`` against the real sandbox
and PostgreSQL; the workflow's use of them runs on the real worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

import orjson
import psycopg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import apply as apply_module
from activities import errors, heartbeat, prefetch, staged_body
from activities.apply import ApplyActivities
from activities.dependencies import SyncDependencies
from activities.fetch import FetchActivities
from activities.page_handoff import handoff_key
from activities.prefetch import Prefetches
from activities.run_lifecycle import RunActivities
from activities.tokens import TokenActivities
from contracts.sync import (
    ApplyPagesInput,
    ErrorType,
    FetchPageInput,
    PageBatch,
    PageRef,
    RefreshTokenInput,
    RunContext,
    StartRunInput,
)
from servicetitan.errors import ServiceUnavailable
from tests.sync.conftest import TENANT
from tests.sync.harness import HarnessFactory, SyncHarness, stored_members
from workflows.paging import PAGES_PER_ACTIVITY
from workflows.sync import workflow_id_for

PAGE_SIZE = 50  # tests/sync/conftest.py: 240 customers are 5 pages


class FailingAfter(FetchActivities):
    """Fails every page fetch after the first ``good`` ones, as a 503 would."""

    def __init__(self, deps: SyncDependencies, good: int) -> None:
        super().__init__(deps)
        self.good = good

    async def _download(self, input: FetchPageInput, previous: dict[str, Any]) -> Any:
        if self.good <= 0:
            raise errors.from_servicetitan(ServiceUnavailable("503 from the test"))
        self.good -= 1
        return await super()._download(input, previous)


async def _begin(harness: SyncHarness, deps: SyncDependencies) -> tuple[int, RunContext]:
    credential = await harness.add_tenant(TENANT)
    env = ActivityEnvironment()
    context = await env.run(
        RunActivities(deps).start_run,
        StartRunInput(credential, "customers", "manual", "full", None, "batches", "run"),
    )
    await env.run(TokenActivities(deps).refresh_token, RefreshTokenInput(credential))
    return credential, context


async def _fetch(
    env: ActivityEnvironment,
    fetch: FetchActivities,
    credential: int,
    context: RunContext,
    *,
    max_pages: int,
) -> PageBatch:
    """``fetch_pages`` of the customers feed from its start."""
    return await env.run(
        fetch.fetch_pages,
        FetchPageInput(credential, context.sync_log_id, "customers", None, max_pages=max_pages),
    )


async def _fetched(
    harness: SyncHarness, deps: SyncDependencies
) -> tuple[ActivityEnvironment, ApplyPagesInput, PageBatch]:
    """A run begun and the customers feed's first three pages fetched: the apply's input."""
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    batch = await _fetch(env, FetchActivities(deps), credential, context, max_pages=3)
    apply = ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, batch.pages)
    return env, apply, batch


async def test_fetch_pages_stages_consecutive_pages_up_to_the_batch_size(
    harness: SyncHarness,
) -> None:
    deps = harness.dependencies()
    fetch = FetchActivities(deps)
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    first = await _fetch(env, fetch, credential, context, max_pages=3)
    assert [page.record_count for page in first.pages] == [PAGE_SIZE] * 3
    rest = await env.run(
        fetch.fetch_pages,
        FetchPageInput(
            credential, context.sync_log_id, "customers", first.pages[-1].cursor_out, max_pages=9
        ),
    )
    pages = first.pages + rest.pages
    # The batch stops at the end of the feed, and each page starts where the previous ended.
    assert [page.has_more for page in pages] == [True] * 4 + [False]
    assert sum(page.record_count for page in pages) == 240
    for before, after in itertools.pairwise(pages):
        assert after.cursor_in == before.cursor_out
    staged = harness.rows(
        "SELECT id, cursor_in, record_count FROM servicetitan_staged_pages ORDER BY id"
    )
    assert staged == [(p.page_id, p.cursor_in or "", p.record_count) for p in pages]
    assert harness.sandbox.counters.refetched() == {}


async def test_a_failure_after_the_first_page_returns_the_pages_staged_so_far(
    harness: SyncHarness,
) -> None:
    deps = harness.dependencies()
    fetch = FailingAfter(deps, good=2)
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    batch = await _fetch(env, fetch, credential, context, max_pages=4)
    assert len(batch.pages) == 2
    # The next batch meets the failure on its first page: that fails the activity, retryably.
    with pytest.raises(ApplicationError) as raised:
        await env.run(
            fetch.fetch_pages,
            FetchPageInput(
                credential,
                context.sync_log_id,
                "customers",
                batch.pages[-1].cursor_out,
                max_pages=4,
            ),
        )
    assert raised.value.type == ErrorType.SERVICE_UNAVAILABLE
    assert not raised.value.non_retryable


async def test_a_retried_fetch_keeps_the_pages_an_earlier_attempt_staged(
    harness: SyncHarness,
) -> None:
    """A worker killed mid-batch: the retry fetches only what was not staged yet."""
    deps = harness.dependencies()
    acts = FetchActivities(deps)
    credential, context = await _begin(harness, deps)
    fetch = FetchPageInput(credential, context.sync_log_id, "customers", None, max_pages=4)
    # The first attempt staged two pages, then died (here: stopped after two).
    first = await ActivityEnvironment().run(
        acts.fetch_pages, dataclasses.replace(fetch, max_pages=2)
    )
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    batch = await retry.run(acts.fetch_pages, fetch)
    assert [p.page_id for p in batch.pages[:2]] == [p.page_id for p in first.pages]
    assert batch.pages[0].cursor_in is None
    assert len(batch.pages) == 4
    assert sum(p.record_count for p in batch.pages) == 4 * PAGE_SIZE
    assert harness.sandbox.counters.refetched() == {}
    # A first attempt never reuses: its position was not fetched in this run before.
    again = await ActivityEnvironment().run(acts.fetch_pages, fetch)
    assert harness.sandbox.counters.refetched()
    assert [p.page_id for p in again.pages] == [p.page_id for p in batch.pages]


async def test_map_and_insert_pages_stops_before_a_missing_page_and_is_idempotent(
    harness: SyncHarness,
) -> None:
    deps = harness.dependencies()
    acts = ApplyActivities(deps)
    env, apply, batch = await _fetched(harness, deps)
    harness.rows(  # the second page's staged copy is gone, as after a crash restart
        "DELETE FROM servicetitan_staged_pages WHERE id = %s RETURNING id",
        batch.pages[1].page_id,
    )
    apply = dataclasses.replace(apply, expected_total=240)
    outcome = await env.run(acts.map_and_insert_pages, apply)
    assert outcome.missing
    assert [result.inserted for result in outcome.results] == [PAGE_SIZE]
    assert harness.scalar("SELECT count(*) FROM members_stream") == PAGE_SIZE
    cursor = harness.scalar(
        "SELECT continue_from FROM servicetitan_sync_state WHERE stream = 'customers'"
    )
    assert cursor == batch.pages[0].cursor_out
    # A retry of the same batch changes nothing for the page already applied.
    again = await env.run(acts.map_and_insert_pages, apply)
    assert again.missing and again.results[0].already_applied
    assert harness.scalar("SELECT count(*) FROM members_stream") == PAGE_SIZE


async def test_map_and_insert_pages_stops_at_the_page_that_finds_the_sync_disabled(
    harness: SyncHarness,
) -> None:
    deps = harness.dependencies()
    acts = ApplyActivities(deps)
    env, apply, _batch = await _fetched(harness, deps)
    harness.rows(
        "UPDATE servicetitan_credentials SET sync_enabled = false, "
        "disabled_reason = 'paused by the test' WHERE id = %s RETURNING id",
        apply.credential_id,
    )
    outcome = await env.run(acts.map_and_insert_pages, apply)
    assert len(outcome.results) == 1 and not outcome.missing
    assert not outcome.results[0].sync_enabled
    assert "paused by the test" in (outcome.results[0].disabled_reason or "")
    assert harness.scalar("SELECT count(*) FROM members_stream") == PAGE_SIZE


async def test_a_sync_runs_several_pages_per_activity(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    result = await harness.sync(credential)
    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    history = await harness.client.get_workflow_handle(workflow_id_for(credential)).fetch_history()
    names = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    applies = names.count("map_and_insert_pages")

    def batches(pages: int) -> int:
        """A stream's batches: 1 page, 2 pages, then PAGES_PER_ACTIVITY pages each."""
        count, size = 0, 1
        while pages > 0:
            pages -= size
            count += 1
            size = min(2 * size, PAGES_PER_ACTIVITY)
        return count

    pages = sum(stream.pages for stream in result.streams)
    assert all(stream.pages > 3 for stream in result.streams)  # full batches were reached
    # Fetches ramp up deterministically; applies take what is staged, up to a batch each.
    assert names.count("fetch_pages") == sum(batches(stream.pages) for stream in result.streams)
    assert -(-pages // PAGES_PER_ACTIVITY) <= applies < pages


async def test_a_batch_beats_even_when_each_page_is_quicker_than_the_interval(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page-level loops beat only after a whole interval; the batch's own loop covers the sum.

    Scaled down: a 0.15 s interval and pages of ~0.1 s stand for 3 s and pages just under it,
    whose sum over a batch could pass the 15 s heartbeat timeout without a beat.
    """
    monkeypatch.setattr(heartbeat, "INTERVAL_SECONDS", 0.15)
    deps = harness.dependencies()
    fetch, apply = FetchActivities(deps), ApplyActivities(deps)
    credential, context = await _begin(harness, deps)
    harness.sandbox.set_faults(latency_seconds=0.1)
    env = ActivityEnvironment()
    beats: list[dict[str, Any]] = []
    env.on_heartbeat = lambda *details: beats.append(dict(details[0]))
    batch = await _fetch(env, fetch, credential, context, max_pages=4)
    assert len(batch.pages) == 4
    assert any(beat.get("phase") == "batch" for beat in beats), beats

    # The apply's pages take ~0.1 s each too: the batch's loop beats, naming its pages.
    beats.clear()
    write = apply._write

    async def slow_write(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.1)
        return await write(*args, **kwargs)

    monkeypatch.setattr(apply, "_write", slow_write)
    await env.run(
        apply.map_and_insert_pages,
        ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, batch.pages),
    )
    assert harness.scalar("SELECT count(*) FROM members_stream") == 4 * PAGE_SIZE
    assert beats and all(beat["phase"] == "batch" for beat in beats), beats
    page_ids = {page.page_id for page in batch.pages}
    assert any(beat.get("page_id") in page_ids for beat in beats), beats
    assert max(beat.get("pages", 0) for beat in beats) >= 1, beats


class Recording(FetchActivities):
    """Records when each page's download starts and its staging ends."""

    def __init__(self, deps: SyncDependencies) -> None:
        super().__init__(deps)
        self.events: list[str] = []

    async def _download(self, input: FetchPageInput, previous: dict[str, Any]) -> Any:
        self.events.append(f"download {input.cursor}")
        return await super()._download(input, previous)

    async def _stage(self, downloaded: Any, **options: Any) -> tuple[PageRef, Any]:
        ref, applied = await super()._stage(downloaded, **options)
        self.events.append(f"staged {ref.cursor_in}")
        return ref, applied


async def test_the_next_page_downloads_while_the_current_one_is_staged(
    harness: SyncHarness,
) -> None:
    deps = harness.dependencies()
    acts = Recording(deps)
    credential, context = await _begin(harness, deps)
    batch = await _fetch(ActivityEnvironment(), acts, credential, context, max_pages=3)
    first, second, third = (page.cursor_in for page in batch.pages)
    assert acts.events == [
        f"download {first}",
        f"download {second}",  # requested before the first page is stored
        f"staged {first}",
        f"download {third}",
        f"staged {second}",
        f"staged {third}",
    ]


async def test_a_failed_analyze_does_not_fail_the_applied_page(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statistics are an optimisation: the page is committed before they are refreshed."""
    deps = harness.dependencies()
    acts = ApplyActivities(deps)
    env, apply, _batch = await _fetched(harness, deps)
    attempts: list[list[str]] = []

    async def failing(connection: Any, tables: list[str]) -> list[str]:
        attempts.append(tables)
        raise psycopg.OperationalError("analyze failed")

    monkeypatch.setattr(apply_module, "analyze_statistics", failing)
    result = await env.run(acts.map_and_insert_pages, apply)
    assert [r.inserted for r in result.results] == [PAGE_SIZE] * 3
    # The members table was never analyzed: the batch found it stale and asked after commit.
    assert attempts and all("members_stream" in tables for tables in attempts)


async def test_a_batch_that_fails_midway_commits_none_of_its_pages_and_its_retry_all(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pages of a batch share one transaction: whole pages or none, never a prefix."""
    deps = harness.dependencies()
    acts = ApplyActivities(deps)
    env, apply, batch = await _fetched(harness, deps)
    write = acts._write
    writes = 0

    async def failing_second(*args: Any, **kwargs: Any) -> Any:
        nonlocal writes
        writes += 1
        if writes == 2:
            raise psycopg.OperationalError("connection lost in the test")
        return await write(*args, **kwargs)

    monkeypatch.setattr(acts, "_write", failing_second)
    with pytest.raises(psycopg.OperationalError):
        await env.run(acts.map_and_insert_pages, apply)
    assert writes == 2
    assert harness.scalar("SELECT count(*) FROM members_stream") == 0
    assert harness.scalar("SELECT count(*) FROM servicetitan_sync_state") == 0
    applied = "SELECT count(*) FROM servicetitan_staged_pages WHERE applied_at IS NOT NULL"
    assert harness.scalar(applied) == 0
    # The retry applies the whole batch, reading the pages from staging (the first attempt
    # took the copies handed over in memory).
    monkeypatch.setattr(acts, "_write", write)
    outcome = await env.run(acts.map_and_insert_pages, apply)
    assert [result.inserted for result in outcome.results] == [PAGE_SIZE] * 3
    assert harness.scalar("SELECT count(*) FROM members_stream") == 3 * PAGE_SIZE
    assert harness.scalar(applied) == 3
    cursor = harness.scalar(
        "SELECT continue_from FROM servicetitan_sync_state WHERE stream = 'customers'"
    )
    assert cursor == batch.pages[-1].cursor_out


def _restart_staging_ids(harness: SyncHarness) -> None:
    """What a crash restart does to the UNLOGGED staging table: emptied, its ids start over."""
    harness.rows(
        "WITH gone AS (DELETE FROM servicetitan_staged_pages RETURNING id) "
        "SELECT setval(pg_get_serial_sequence('servicetitan_staged_pages', 'id'), "
        "(SELECT min(id) FROM gone), false)"
    )


async def test_a_page_id_reused_after_a_crash_restart_is_not_applied_from_the_old_handoff(
    harness: SyncHarness,
) -> None:
    """A crash restart truncates the UNLOGGED staging table and restarts its ids, so a page
    staged afterwards can get the id of a page still held in the worker's hand-off. The apply
    must write the page it was asked for, not the bytes the old entry holds."""
    deps = harness.dependencies()
    fetch = FetchActivities(deps)
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    first = await _fetch(env, fetch, credential, context, max_pages=1)  # held, never applied
    _restart_staging_ids(harness)
    second = await env.run(  # staged by another worker: this one's entry stays
        FetchActivities(harness.dependencies()).fetch_pages,
        FetchPageInput(
            credential, context.sync_log_id, "customers", first.pages[0].cursor_out, max_pages=1
        ),
    )
    assert second.pages[0].page_id == first.pages[0].page_id  # the id came round again
    [(body,)] = harness.rows("SELECT body FROM servicetitan_staged_pages")
    records = orjson.loads(staged_body.unpack(bytes(body)))["data"]
    await env.run(
        ApplyActivities(deps).map_and_insert_pages,
        ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, second.pages),
    )
    stored = {
        int(customer_id)
        for (customer_id,) in harness.rows("SELECT customer_id FROM members_stream")
    }
    assert stored == {record["id"] for record in records}, "not the rows of the page applied"


async def test_a_page_whose_id_now_names_another_page_is_missing_not_applied(
    harness: SyncHarness,
) -> None:
    """After a crash restart the id of a staged page the workflow still holds can name a page
    of another stream staged since. Applying the held reference must find its page gone (and
    the workflow fetch it again), not apply the other page in its place."""
    deps = harness.dependencies()
    fetch = FetchActivities(deps)
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    held = await _fetch(env, fetch, credential, context, max_pages=1)
    _restart_staging_ids(harness)
    other = await env.run(
        FetchActivities(harness.dependencies()).fetch_pages,
        FetchPageInput(credential, context.sync_log_id, "customer_contacts", None, max_pages=1),
    )
    assert other.pages[0].page_id == held.pages[0].page_id
    outcome = await env.run(
        ApplyActivities(deps).map_and_insert_pages,
        ApplyPagesInput(credential, context.sync_log_id, context.import_job_id, held.pages),
    )
    assert outcome.missing and not outcome.results
    assert harness.scalar("SELECT count(*) FROM servicetitan_customer_contacts") == 0
    assert harness.scalar("SELECT count(*) FROM members_stream") == 0


async def test_a_full_batch_prefetches_the_next_page_for_the_next_fetch(
    harness: SyncHarness,
) -> None:
    """The page after a full batch is requested before the next fetch asks: it takes it."""
    deps = harness.dependencies()
    fetch = FetchActivities(deps)
    credential, context = await _begin(harness, deps)
    env = ActivityEnvironment()
    first = await _fetch(env, fetch, credential, context, max_pages=2)
    assert len(deps.prefetches) == 1
    served = harness.sandbox.counters.pages_served.total()
    await asyncio.sleep(0.2)  # the prefetch lands meanwhile
    assert harness.sandbox.counters.pages_served.total() == served + 1
    rest = await env.run(
        fetch.fetch_pages,
        FetchPageInput(
            credential, context.sync_log_id, "customers", first.pages[-1].cursor_out, max_pages=2
        ),
    )
    assert len(rest.pages) == 2 and len(deps.prefetches) == 1  # the fifth and last page
    assert rest.pages[0].cursor_in == first.pages[-1].cursor_out
    await asyncio.sleep(0.2)  # and the fifth's prefetch
    assert harness.sandbox.counters.refetched() == {}  # every page requested once
    assert harness.sandbox.counters.pages_served.total() == served + 3


def test_prefetches_are_taken_once_bounded_and_dropped_when_old() -> None:
    now = [0.0]
    held = Prefetches(clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    try:
        downloads = [loop.create_future() for _ in range(prefetch.MAX_PAGES + 2)]
        for n, download in enumerate(downloads):
            held.put(n, download)
        assert len(held) == prefetch.MAX_PAGES
        assert downloads[0].cancelled() and downloads[1].cancelled()  # the oldest went
        assert held.take(5) is downloads[5] and held.take(5) is None
        now[0] = prefetch.MAX_AGE_SECONDS + 1
        assert held.take(6) is None and downloads[6].cancelled()  # too old: dropped
        assert len(held) == 0
    finally:
        loop.close()


async def test_an_apply_starts_mapping_the_next_pages_it_holds_unmapped(
    make_harness: HarnessFactory,
) -> None:
    """Pages fetched before their mapping could start are mapped during the apply before."""
    async with make_harness(run_worker=False, sync_mapping_processes=1) as harness:
        deps = harness.dependencies()
        credential, context = await _begin(harness, deps)
        env = ActivityEnvironment()
        batch = await env.run(
            FetchActivities(deps).fetch_pages,
            FetchPageInput(
                credential, context.sync_log_id, "customers", None, max_pages=2, prepare=False
            ),
        )
        first, second = batch.pages
        await env.run(
            ApplyActivities(deps).map_and_insert_pages,
            ApplyPagesInput(
                credential, context.sync_log_id, context.import_job_id, [first], following=[second]
            ),
        )
        held = deps.handoff.take(handoff_key(second))
        assert held is not None and held.prepared is not None and held.context is not None
        assert (await held.prepared).mapped == PAGE_SIZE
