"""``fetch_first_pages``: an incremental sync's first page of every stream, in one activity.

Most incremental syncs bring a page or less per stream. Fetched and applied one activity at a
time, such a sync costs three fetches and three applies, each a round trip through Temporal
and a workflow task; for a fleet of small tenants that overhead, not the records, is the work.
Here the streams' first pages are downloaded at once and staged as ``fetch_pages`` stages
them; then, in the order the streams must be written, each page that is its stream's whole
feed is applied as ``map_and_insert_pages`` applies it, once the stream it waits for is
complete. Whatever is not applied here (a longer feed, a stream waiting on one that is not
complete) stays staged, and the workflow goes on with it as with any fetched batch.

Retries are exact as elsewhere: a retried attempt keeps the pages staged before it, and an
applied page's apply returns its stored result. A stream whose download fails with an error
worth retrying (a 429, a 5xx) is left out (``None``): its own ``fetch_pages``, with the
retry policy and the rate-limit accounting of every fetch, asks again. Errors that retrying
cannot mend (rejected credentials) fail the activity, as they fail a fetch.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.apply import ApplyActivities
from activities.fetch import FetchActivities
from contracts.sync import (
    ActivityName,
    ApplyPagesInput,
    ApplyResult,
    FirstPage,
    FirstPagesInput,
    FirstPagesResult,
    PageBatch,
    Stream,
)
from core.logging import get_logger

log = get_logger(__name__)


class FirstPagesActivities:
    def __init__(self, fetch: FetchActivities, apply: ApplyActivities) -> None:
        self.fetch = fetch
        self.apply = apply

    @activity.defn(name=ActivityName.FETCH_FIRST_PAGES)
    async def fetch_first_pages(self, input: FirstPagesInput) -> FirstPagesResult:
        """Fetch every stream's first page at once; apply the whole feeds in stream order."""
        batches = list(
            await asyncio.gather(*(self._first_page(stream) for stream in input.streams))
        )
        complete: set[Stream] = set()
        for stream, batch in _in_write_order(input.streams, batches):
            if batch is None:
                continue
            applied = batch.first_applied or await self._apply_whole_feed(
                input, stream, batch, complete
            )
            if applied is not None and not applied.sync_enabled:
                break  # a page boundary: the workflow stops the sync on this result
            if applied is not None and not batch.pages[0].has_more:
                complete.add(stream.fetch.stream)
        return FirstPagesResult(batches)

    async def _first_page(self, stream: FirstPage) -> PageBatch | None:
        """The stream's first page, staged (an empty one applied); None if the API failed."""
        try:
            return await self.fetch.fetch_pages(stream.fetch)
        except ApplicationError as error:
            if error.non_retryable:
                raise
            log.info(
                "first page left to the stream's own fetch",
                stream=stream.fetch.stream,
                error=error.type,
            )
            return None

    async def _apply_whole_feed(
        self,
        input: FirstPagesInput,
        stream: FirstPage,
        batch: PageBatch,
        complete: set[Stream],
    ) -> ApplyResult | None:
        """Apply the batch's page if it is the stream's whole feed and may be written now."""
        [page] = batch.pages
        waiting = stream.applied_after is not None and stream.applied_after not in complete
        if page.has_more or waiting:
            return None
        outcome = await self.apply.map_and_insert_pages(
            ApplyPagesInput(
                credential_id=stream.fetch.credential_id,
                sync_log_id=stream.fetch.sync_log_id,
                import_job_id=input.import_job_id,
                pages=[page],
                expected_total=(
                    stream.fetch.expected_total
                    if page.estimated_total is None
                    else page.estimated_total
                ),
            )
        )
        if not outcome.results:
            return None  # its staged body is gone: the stream's apply fetches it again
        batch.first_applied = outcome.results[0]
        return batch.first_applied


def _in_write_order(
    streams: list[FirstPage], batches: list[PageBatch | None]
) -> list[tuple[FirstPage, PageBatch | None]]:
    """The streams with their batches, each after the stream it waits for."""
    pending = list(zip(streams, batches, strict=True))
    ordered: list[tuple[FirstPage, PageBatch | None]] = []
    while pending:
        placed = {stream.fetch.stream for stream, _ in ordered}
        ready = [e for e in pending if e[0].applied_after in (None, *placed)]
        if not ready:
            break  # waits for a stream not in this activity: left to the workflow
        ordered += ready
        pending = [e for e in pending if e not in ready]
    return ordered
