"""Feeds that never end: a cursor cycle and endless empty pages fail the sync, they do not spin.

The sandbox's feed faults make ServiceTitan misbehave for real (through the worker, Temporal and
PostgreSQL); the unit tests below pin down what the workflow's watch counts as stuck, including
the refetch of a lost staged page, which goes back on purpose and must not look like a cycle.
"""

from __future__ import annotations

import time

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contracts.sync import ErrorType, PageRef
from sandbox import endpoints
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness
from workflows.paging import MAX_EMPTY_PAGES_IN_A_ROW, PAGES_PER_ACTIVITY, CursorWatch


def customer_requests(harness: SyncHarness) -> int:
    """Export requests for the customers feed (every attempt counts)."""
    return sum(
        count
        for (tenant, endpoint, _), count in harness.sandbox.counters.page_requests.items()
        if tenant == TENANT and endpoint == endpoints.EXPORT_CUSTOMERS
    )


async def failed_sync(harness: SyncHarness, credential: int) -> ApplicationError:
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.sync(credential, data_type="customers")
    assert time.monotonic() - started < 120
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == ErrorType.STUCK_CURSOR
    assert cause.non_retryable
    log = harness.rows("SELECT status, error_message FROM servicetitan_sync_logs")
    assert log == [("failed", cause.message)]
    return cause


async def test_a_cursor_cycle_fails_the_sync_as_a_stuck_cursor(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(cursor_cycle_after=2, endpoints=[endpoints.EXPORT_CUSTOMERS])

    cause = await failed_sync(harness, credential)

    assert "customers" in cause.message and "led back" in cause.message
    assert harness.sandbox.counters.faults["cursor_cycle"] >= 1
    # Caught on the first page that leads back: a few batches, not an endless loop.
    assert customer_requests(harness) <= 2 + 2 + 2 * PAGES_PER_ACTIVITY


async def test_endless_empty_pages_fail_the_sync_as_a_stuck_cursor(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(empty_pages_after=2, endpoints=[endpoints.EXPORT_CUSTOMERS])

    cause = await failed_sync(harness, credential)

    assert f"{MAX_EMPTY_PAGES_IN_A_ROW} empty pages in a row" in cause.message
    assert harness.sandbox.counters.faults["empty_page"] >= MAX_EMPTY_PAGES_IN_A_ROW
    assert customer_requests(harness) <= 2 + MAX_EMPTY_PAGES_IN_A_ROW + 2 * PAGES_PER_ACTIVITY
    # The real pages before the empty ones were applied: nothing is lost, the cursor is kept.
    assert harness.scalar("SELECT count(*) FROM members_stream") == 100


# --- the watch itself -------------------------------------------------------------------------


def page(cursor_in: str | None, cursor_out: str, records: int = 50, more: bool = True) -> PageRef:
    return PageRef(
        page_id=0,
        stream="customers",
        cursor_in=cursor_in,
        cursor_out=cursor_out,
        has_more=more,
        record_count=records,
    )


def walk(watch: CursorWatch, pages: list[PageRef]) -> list[str | None]:
    return [watch.see(p) for p in pages]


def test_a_feed_that_moves_on_is_never_stuck() -> None:
    pages = [page(None, "a"), page("a", "b"), page("b", "c", records=0), page("c", "d", more=False)]
    assert walk(CursorWatch(), pages) == [None] * 4


def test_a_repeated_cursor_and_a_cycle_are_stuck() -> None:
    assert CursorWatch().see(page("a", "a")) == (
        "ServiceTitan returned the same continueFrom it was given with hasMore=true; "
        "stopping instead of looping"
    )
    problems = walk(CursorWatch(), [page(None, "a"), page("a", "b"), page("b", "a")])
    assert problems[:2] == [None, None]
    assert problems[2] is not None and "led back" in problems[2]
    # Back to the very first position (the stream's stored cursor) counts too.
    assert walk(CursorWatch(), [page("s", "a"), page("a", "s")])[1] is not None


def test_a_last_page_may_repeat_its_cursor() -> None:
    """hasMore false ends the stream whatever the cursor says: nothing loops."""
    assert walk(CursorWatch(), [page("a", "b"), page("b", "a", more=False)]) == [None, None]


def test_empty_pages_are_stuck_only_when_that_many_come_in_a_row() -> None:
    watch = CursorWatch()
    empties = [page(f"e{i}", f"e{i + 1}", records=0) for i in range(MAX_EMPTY_PAGES_IN_A_ROW)]
    assert walk(watch, empties[:-1]) == [None] * (MAX_EMPTY_PAGES_IN_A_ROW - 1)
    problem = watch.see(empties[-1])
    assert problem is not None and f"{MAX_EMPTY_PAGES_IN_A_ROW} empty pages in a row" in problem

    watch = CursorWatch()
    walk(watch, empties[:-1])
    assert watch.see(page(f"e{MAX_EMPTY_PAGES_IN_A_ROW - 1}", "x", records=1)) is None
    assert watch.see(page("x", "y", records=0)) is None  # the streak starts again


def test_refetching_a_lost_page_is_not_a_cycle() -> None:
    """The workflow fetches a page whose staged copy is gone again from its ``cursor_in``."""
    watch = CursorWatch()
    assert (
        walk(watch, [page(None, "a"), page("a", "b"), page("b", "c"), page("c", "d")]) == [None] * 4
    )
    # Page "b" was lost: the same pages come again from there, and on past them.
    again = [page("b", "c"), page("c", "d"), page("d", "e"), page("e", "f")]
    assert walk(watch, again) == [None] * 4
    # A real cycle after the refetch is still caught.
    assert watch.see(page("f", "c")) is not None


def test_the_watch_remembers_one_runs_cursors_only() -> None:
    """Memory is bounded by the pages one run reads; a continue-as-new starts a new watch."""
    watch = CursorWatch()
    walk(watch, [page(f"p{i}", f"p{i + 1}") for i in range(300)])
    assert len(watch.fetched_from) == 300
