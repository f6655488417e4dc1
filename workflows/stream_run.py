"""One stream of a sync: a fetch chain and an apply chain running side by side.

An export feed is sequential (each page needs the previous ``continueFrom``), so a stream's
pages are fetched one batch after another, and applied in the same order. The two chains are
decoupled: the fetch chain asks for its next batch as soon as the previous one is staged and
there is room ahead (``MAX_FETCHED_AHEAD``), whatever the applies are doing; the apply chain
takes the staged pages in order as they arrive. So at real API latency the downloads run back
to back, and at zero latency the fetches stay a batch ahead of the applies.

A stream may have to wait before applying (``Gate``): invoice rows take their customer's type,
so invoices are applied once the customers stream is complete, while their fetch goes ahead.
Customers wait for the contacts only to write each member row once; when the downloads are
what the sync waits for (``LATENCY_BOUND_PAGE``) that saving is worth nothing and they don't.

Workflow code: deterministic, no I/O; the activities are passed in as callables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.sync import (
        ApplyPagesResult,
        ApplyResult,
        ErrorType,
        PageBatch,
        PageRef,
        StreamProgress,
    )

from workflows.paging import PAGES_PER_ACTIVITY, BatchPlan, CursorWatch, StreamOutcome

MAX_REFETCHES = 3
"""Times a stream fetches a lost staged page again before the sync fails."""
MAX_FETCHED_AHEAD = PAGES_PER_ACTIVITY
"""Staged pages a stream's fetch chain may hold ahead of its applies before it waits."""
FETCHED_AHEAD_WHILE_WAITING = 2 * PAGES_PER_ACTIVITY
"""Pages a stream that may not apply yet holds ahead when pages download quickly."""
SLOW_PAGE = timedelta(milliseconds=100)
"""A page that takes this long to download makes a waiting stream fetch on ahead (up to a
run's worth): the downloads, not the applies, then decide how long the sync takes. Pages that
come quicker are fetched when nearly needed, so that fetching far ahead does not take the CPU
the applies need (and the pages stay in the worker's memory, not only in staging)."""
LATENCY_BOUND_PAGE = timedelta(milliseconds=200)
"""A full batch whose pages took this long each shows that the API's latency, not CPU, paces
the stream (at zero latency a full batch takes 50-80 ms a page): from then on the stream
fetches on up to a run's worth ahead whatever its applies do, and an order-only gate opens."""


@dataclass
class FetchRequest:
    """What the next fetch of a stream asks for (the workflow builds the activity input)."""

    cursor: str | None
    max_pages: int
    estimate_total: bool
    prepare: bool
    """Start mapping the pages as they are staged (false while the stream's gate is shut:
    the mapping would use data another stream has not finished writing)."""
    apply_empty: bool
    """The fetch may apply its first page itself if it has no records: no page of the
    stream is waiting or being applied, so its cursor is the next one to record."""
    worker_queue: str | None
    """The task queue of the worker holding the stream's last pages (None: the shared one)."""


Fetch = Callable[[FetchRequest], Awaitable[PageBatch]]
Apply = Callable[[list[PageRef], list[PageRef], str | None], Awaitable[ApplyPagesResult]]
"""(pages to apply, the stream's next staged pages, the worker queue) -> the outcome."""


@dataclass
class RunBudget:
    """Pages every stream of one run may apply together before the run continues as new."""

    limit: int
    applied: int = 0
    applying: int = 0
    """Pages of applies running now (streams apply at once; each takes what is left)."""

    def spent(self) -> bool:
        return (
            self.applied + self.applying >= self.limit
            or workflow.info().is_continue_as_new_suggested()
        )

    def take(self, staged: int) -> int:
        """How many of ``staged`` pages the next apply takes, reserving them."""
        size = min(staged, PAGES_PER_ACTIVITY, max(1, self.limit - self.applied - self.applying))
        self.applying += size
        return size

    def settle(self, taken: int, applied: int) -> None:
        self.applying -= taken
        self.applied += applied


class Gate:
    """Whether a stream may apply yet: open at once, or once another stream completes.

    An ``order_only`` gate keeps an order that saves work but that correct rows do not need:
    it also opens once the stream's downloads are found latency-bound (waiting to save CPU
    would then only cost time).
    """

    def __init__(
        self, waits_for: StreamProgress | None = None, *, order_only: bool = False
    ) -> None:
        self._waits_for = waits_for
        self._order_only = order_only
        self.latency_bound = False
        """The gated stream's downloads are latency-bound (``LATENCY_BOUND_PAGE``)."""
        self.ended = False
        """The stream waited for has stopped for this run (complete or not)."""

    def stream_ended(self, stream: StreamProgress) -> None:
        """Tell the gate a stream stopped for this run (only the one it waits for matters)."""
        if stream is self._waits_for:
            self.ended = True

    @property
    def open(self) -> bool:
        return (
            self._waits_for is None
            or self._waits_for.done
            or (self._order_only and self.latency_bound)
        )

    @property
    def stuck(self) -> bool:
        """Shut for the rest of this run: the stream waited for stopped before completing."""
        return not self.open and self.ended


class StreamRun:
    """Syncs one stream within a run; ``run`` returns how it ended."""

    def __init__(
        self,
        stream: StreamProgress,
        carried: list[PageRef],
        budget: RunBudget,
        gate: Gate,
        fetch: Fetch,
        apply: Apply,
        before_fetch: Callable[[], Awaitable[None]],
        first: PageBatch | None = None,
    ) -> None:
        self.stream = stream
        self._first = first
        """The stream's first batch, fetched already (``fetch_first_pages``): the fetch chain
        takes it as its first fetch's result."""
        self._staged = list(carried)
        """Pages fetched and staged, not applied yet, in feed order."""
        self._budget = budget
        self._gate = gate
        self._fetch = fetch
        self._apply = apply
        self._before_fetch = before_fetch
        self._watch = CursorWatch()
        self._taken = 0
        """Pages at the head of ``_staged`` that the running apply has taken."""
        self._fetching: asyncio.Task[None] | None = None
        self._chain = 0
        """The number of the current fetch chain (a refetch starts a new one)."""
        self._worker_queue: str | None = None
        """Where the stream's last batch was fetched: its mapping is held there."""
        self._feed_ended = bool(carried) and not carried[-1].has_more
        """The last page of the feed is fetched (``hasMore`` false)."""
        self._fetch_ended = self._feed_ended
        self._estimate_asked = False
        self._page_time = timedelta(0)
        """How long the stream's last fetch took per page (workflow time)."""

    async def run(self) -> StreamOutcome:
        """Apply the stream's pages in order until it completes or the run's budget is spent.

        A fetch still running when the stream stops or fails is awaited (cancelled on
        failure) first: ``finish_run`` removes the run's staged pages, and a fetch running
        past it could stage pages nothing removes.
        """
        try:
            if not self._fetch_ended:
                cursor = self._staged[-1].cursor_out if self._staged else self.stream.cursor
                self._start_fetching(cursor)
            return await self._apply_chain()
        finally:
            await self._stop_fetching(cancel=True)

    # --- the fetch chain --------------------------------------------------------------------

    def _start_fetching(self, cursor: str | None) -> None:
        self._fetch_ended = False
        self._chain += 1
        self._fetching = asyncio.ensure_future(self._fetch_chain(cursor, self._chain))

    async def _stop_fetching(self, *, cancel: bool) -> None:
        """Wait for the fetch chain to end; with ``cancel``, end it first and drop its pages.

        A cancelled fetch activity may still complete (its result arrives with the
        cancellation): the chain is told apart by its number and keeps nothing after that.
        """
        fetching, self._fetching = self._fetching, None
        if fetching is None:
            return
        if cancel:
            self._chain += 1
            if not fetching.done():
                fetching.cancel()
        await workflow.wait([fetching])
        failure = None if fetching.cancelled() else fetching.exception()
        if failure is not None and not cancel:
            raise failure

    def _room_ahead(self) -> bool:
        if self._budget.spent():
            return False
        if self._gate.latency_bound:
            # Fetching ahead costs nothing the applies need; a backlog they drain must not
            # stop the downloads (as it would when an invoices gate opens on many pages).
            return len(self._staged) < self._budget.limit
        if not self._gate.open:
            # Fetch ahead while waiting: the pages wait in staging. Up to a run's worth when
            # downloads are slow (bounded, so what a continue-as-new carries stays bounded).
            slow = self._page_time >= SLOW_PAGE
            return len(self._staged) < (self._budget.limit if slow else FETCHED_AHEAD_WHILE_WAITING)
        # Pages an apply has taken make room at once: the next fetch need not wait for it.
        return len(self._staged) - self._taken < MAX_FETCHED_AHEAD

    async def _fetch_chain(self, cursor: str | None, chain: int) -> None:
        """Fetch batch after batch into ``_staged`` until the feed ends or the budget is spent."""
        plan = BatchPlan(limit=self._budget.limit)

        def stopped() -> bool:
            return chain != self._chain

        try:
            while True:
                batch, self._first = self._first, None
                if batch is None:
                    batch = await self._next_batch(cursor, plan, stopped)
                    if batch is None:
                        return
                else:
                    self._estimate_asked = True
                    plan.next_size(self._budget.applied)  # the first batch's size: one page
                self._worker_queue = batch.worker_queue
                self._take_page_facts(batch.pages)
                pages = batch.pages
                if batch.first_applied is not None:
                    self._count([pages[0]], [batch.first_applied])
                    self._budget.applied += 1
                    self._check_enabled([batch.first_applied])
                    pages = pages[1:]
                self._staged.extend(pages)
                last = batch.pages[-1]
                if not last.has_more:
                    self._feed_ended = True
                    return
                cursor = last.cursor_out
        finally:
            if not stopped():
                self._fetch_ended = True

    async def _next_batch(
        self, cursor: str | None, plan: BatchPlan, stopped: Callable[[], bool]
    ) -> PageBatch | None:
        """Fetch the batch at ``cursor`` once there is room; None if the chain stopped first."""
        await workflow.wait_condition(lambda: stopped() or self._room_ahead_or_spent())
        if stopped() or self._budget.spent():
            return None
        await self._before_fetch()
        estimate = not self._estimate_asked and self.stream.pages == 0
        self._estimate_asked = True
        request = FetchRequest(
            cursor=cursor,
            max_pages=plan.next_size(self._budget.applied),
            estimate_total=estimate and self.stream.estimated_total is None,
            prepare=self._gate.open,
            apply_empty=not self._staged,
            worker_queue=self._worker_queue,
        )
        started = workflow.now()
        batch = await self._fetch(request)
        if stopped():
            return None
        self._page_time = (workflow.now() - started) / len(batch.pages)
        if len(batch.pages) >= PAGES_PER_ACTIVITY and self._page_time >= LATENCY_BOUND_PAGE:
            self._gate.latency_bound = True
        return batch

    def _room_ahead_or_spent(self) -> bool:
        return self._room_ahead() or self._budget.spent()

    # --- the apply chain --------------------------------------------------------------------

    def _next_step(self) -> bool:
        if self._fetching is not None and self._fetching.done() and self._fetching.exception():
            return True  # the fetch failed: stop and report it
        if self._staged and self._gate.open:
            return True
        if self._staged and self._gate.stuck and self._fetch_ended:
            return True
        return self._fetch_ended and not self._staged

    async def _apply_chain(self) -> StreamOutcome:
        refetches = 0
        while True:
            await workflow.wait_condition(self._next_step)
            if self._fetching is not None and self._fetching.done():
                await self._stop_fetching(cancel=False)  # raises the fetch's failure, if any
            if not self._staged:
                return self._ended()
            if not self._gate.open or self._budget.spent():
                await workflow.wait_condition(lambda: self._fetch_ended)
                await self._stop_fetching(cancel=False)
                return StreamOutcome(self._budget.applied, carry=self._staged)
            taken = self._budget.take(len(self._staged))
            pages = self._staged[:taken]
            self._taken = taken
            applied = 0
            try:
                following = self._staged[taken : taken + PAGES_PER_ACTIVITY]
                outcome = await self._apply(pages, following, self._worker_queue)
                applied = len(outcome.results)
                # Where it ran: after a fallback from a dead worker, not that worker's queue.
                self._worker_queue = outcome.worker_queue
            finally:
                self._taken = 0
                self._budget.settle(taken, applied)
            self._count(pages, outcome.results)
            del self._staged[: len(outcome.results)]
            self._check_enabled(outcome.results)
            if outcome.missing:
                refetches += 1
                await self._refetch(pages[len(outcome.results)], refetches)

    def _ended(self) -> StreamOutcome:
        if self._feed_ended:
            self.stream.done = True
            return StreamOutcome(self._budget.applied)
        return StreamOutcome(self._budget.applied, carry=[])  # the budget ran out first

    async def _refetch(self, missing: PageRef, refetches: int) -> None:
        """Fetch a staged page that is gone again, from its position, and what follows it.

        PostgreSQL truncates UNLOGGED staged pages when it restarts after a crash. The pages
        staged after it may be gone too: they are dropped and fetched again as well.
        """
        if refetches > MAX_REFETCHES:
            raise ApplicationError(
                f"staged {missing.stream} page {missing.page_id} is gone again "
                f"after {MAX_REFETCHES} fetches (PostgreSQL keeps restarting?)",
                type=ErrorType.STAGED_PAGE_MISSING,
                non_retryable=True,
            )
        await self._stop_fetching(cancel=True)
        self._staged.clear()
        self._feed_ended = False
        self._start_fetching(missing.cursor_in)

    # --- bookkeeping ------------------------------------------------------------------------

    def _count(self, pages: list[PageRef], results: list[ApplyResult]) -> None:
        stream = self.stream
        for page, result in zip(pages, results, strict=False):
            stream.pages += 1
            stream.records += page.record_count
            stream.inserted += result.inserted
            stream.updated += result.updated
            stream.unchanged += result.unchanged
            stream.rejected += result.rejected
            stream.cursor = page.cursor_out

    def _check_enabled(self, results: list[ApplyResult]) -> None:
        stopped = next((r for r in results if not r.sync_enabled), None)
        if stopped is not None:
            raise ApplicationError(
                f"sync stopped at a page boundary: {stopped.disabled_reason}",
                type=ErrorType.SYNC_DISABLED,
                non_retryable=True,
            )

    def _take_page_facts(self, pages: list[PageRef]) -> None:
        """Refuse a feed that never ends; keep each page's estimate and rate-limit waits.

        A cursor that stays put, leads back to a position this run read from, or moves on
        through ``MAX_EMPTY_PAGES_IN_A_ROW`` empty pages will never reach ``hasMore`` false:
        the sync fails at once (``STUCK_CURSOR``, not retryable) instead of paging for ever.
        """
        for page in pages:
            problem = self._watch.see(page)
            if problem is not None:
                raise ApplicationError(
                    f"{self.stream.stream}: {problem}",
                    type=ErrorType.STUCK_CURSOR,
                    non_retryable=True,
                )
            if page.estimated_total is not None:
                self.stream.estimated_total = page.estimated_total
            self.stream.rate_limit_waits += page.rate_limit_waits
