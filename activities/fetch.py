"""``fetch_pages``: download consecutive export pages and stage each before anything else.

A page is stored in PostgreSQL (``db.staging``) as received, compressed, before any of its
records is written, so its position in the feed is on record from then on. Only the first
page's failure fails the activity (and is retried by its policy); when a later page fails,
the pages staged so far are returned and the next ``fetch_pages`` meets the error first.

Pipelined: page N+1 is requested as soon as page N's ``continueFrom`` is known, and downloads
while page N is compressed, staged and its mapping started. Pages are still staged in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors, futures, staged_body
from activities.dependencies import SyncDependencies
from activities.heartbeat import heartbeating, previous_details
from activities.ownership import check_run
from activities.page_handoff import handoff_key
from activities.prepare import prepare_pages, row_context, unprepared
from contracts.sync import ActivityName, ApplyResult, FetchPageInput, PageBatch, PageRef
from core import metrics
from core.logging import get_logger
from db.credentials import credential_context
from db.progress import high_water, record_page_progress
from db.staging import mark_applied, stage_page, staged_before, staged_chain
from servicetitan.client import ServiceTitanClient
from servicetitan.errors import CredentialsRejected, RateLimited, ServiceTitanError
from servicetitan.pages import ExportPage, ExportStream, ListResource

log = get_logger(__name__)

_COUNTABLE = {"invoices": ListResource.INVOICES, "customers": ListResource.CUSTOMERS}

_LATER_PAGE_ERRORS = (ApplicationError, ServiceTitanError, OSError, SQLAlchemyError)
"""Failures of a batch's later page that end the batch early instead of failing it."""


class FetchActivities:
    def __init__(self, deps: SyncDependencies) -> None:
        self.deps = deps

    @activity.defn(name=ActivityName.FETCH_PAGES)
    async def fetch_pages(self, input: FetchPageInput) -> PageBatch:
        """Fetch and stage up to ``max_pages`` consecutive pages, following ``continueFrom``."""
        # One heartbeat loop for the whole batch: each page's own loop beats only after its
        # first interval, so pages quicker than that would otherwise never beat.
        applied: ApplyResult | None = None
        async with heartbeating(stream=input.stream, cursor=input.cursor, phase="batch") as beat:
            pages = await self._staged_by_earlier_attempts(input)
            following: asyncio.Future[_Downloaded] | None = None
            count = None if pages else self._count_alongside(input)
            try:
                if not pages:
                    first = await self._first_download(input)
                    following = self._download_next(input, first.ref(), 1)
                    ref, applied = await self._stage(first, apply_empty=input.apply_empty)
                    pages.append(ref)
                else:
                    following = self._download_next(input, pages[-1], len(pages))
                while following is not None:
                    beat.update(cursor=pages[-1].cursor_out, pages=len(pages))
                    try:
                        downloaded = await following
                        following = self._download_next(input, downloaded.ref(), len(pages) + 1)
                        pages.append((await self._stage(downloaded))[0])
                    except _LATER_PAGE_ERRORS as error:
                        log.info(
                            "page batch cut short; the next fetch retries",
                            stream=input.stream,
                            pages=len(pages),
                            error=type(error).__name__,
                        )
                        break
                else:
                    self._prefetch_after(input, pages[-1], len(pages))
            finally:
                futures.discard(following)  # cut short: that page is not staged
                if sys.exc_info()[0] is not None:
                    futures.discard(count)  # the batch failed: its count is of no use
            if count is not None:
                pages[0].estimated_total = await count
        return PageBatch(pages, first_applied=applied, worker_queue=self.deps.worker_queue)

    def _count_alongside(self, input: FetchPageInput) -> asyncio.Future[int | None] | None:
        """A full sync's count for progress bars, asked alongside the stream's first pages.

        It is awaited once the batch is staged and the next page is requested, so a count
        slower than a page (a large tenant's) holds up neither the batch nor the next one.
        An incremental sync asks it only when its first page says more follow (``_download``).
        """
        if not input.estimate_total or input.cursor is not None:
            return None

        async def count() -> int | None:
            client = await self.deps.client_for(input.credential_id)
            return await self._estimate(client, input)

        return asyncio.ensure_future(count())

    async def _first_download(self, input: FetchPageInput) -> _Downloaded:
        """The batch's first page: the one the previous fetch prefetched, or requested now."""
        previous = previous_details()
        prefetched = (
            None
            if input.estimate_total
            else self.deps.prefetches.take(_position(input, input.cursor))
        )
        if prefetched is None:
            return await self._download(input, previous)
        return await self._prefetched(prefetched, input, previous)

    async def _prefetched(
        self,
        prefetched: asyncio.Future[_Downloaded],
        input: FetchPageInput,
        previous: dict[str, Any],
    ) -> _Downloaded:
        """A prefetched page, for ``input``; requested again if the prefetch failed, so that
        its failure (a 429, a 5xx) is met and handled like any page's."""
        try:
            downloaded = await prefetched
        except Exception as error:  # any failure: a request now meets it again, and handles it
            log.info(
                "prefetched page failed; requesting it again",
                stream=input.stream,
                error=type(error).__name__,
            )
            return await self._download(input, previous)
        return dataclasses.replace(downloaded, input=input)

    def _prefetch_after(self, input: FetchPageInput, last: PageRef, count: int) -> None:
        """A full batch ends with more to come: start the next page for the next fetch."""
        if count < input.max_pages or not last.has_more:
            return
        following = dataclasses.replace(input, cursor=last.cursor_out, estimate_total=False)
        download = asyncio.ensure_future(self._prefetch(following))
        self.deps.prefetches.put(_position(input, last.cursor_out), download)

    async def _prefetch(self, input: FetchPageInput) -> _Downloaded:
        """GET a page outside any activity: no heartbeat, errors left to whoever takes it."""
        client = await self.deps.client_for(input.credential_id)
        page = await client.fetch_export_page(ExportStream(input.stream), input.cursor)
        return _Downloaded(input, page, None, 0)

    def _download_next(
        self, input: FetchPageInput, last: PageRef, count: int
    ) -> asyncio.Future[_Downloaded] | None:
        """Start downloading the page after ``last`` if the batch has room and there is one."""
        if count >= input.max_pages or not last.has_more:
            return None
        following = dataclasses.replace(input, cursor=last.cursor_out, estimate_total=False)
        prefetched = self.deps.prefetches.take(_position(input, following.cursor))
        if prefetched is not None:
            return asyncio.ensure_future(self._prefetched(prefetched, following, {}))
        return asyncio.ensure_future(self._download(following, {}))

    async def _staged_by_earlier_attempts(self, input: FetchPageInput) -> list[PageRef]:
        """Pages a crashed or failed attempt of this fetch staged already, to keep, not refetch.

        Read from PostgreSQL (heartbeat details may not have reached Temporal before a crash).
        Only on retries: a first attempt's position was never fetched in this run.
        """
        if activity.info().attempt <= 1:
            return []
        async with self.deps.database.transaction() as connection:
            await check_run(connection, input.credential_id, input.sync_log_id)
            staged = await staged_chain(
                connection,
                credential_id=input.credential_id,
                sync_log_id=input.sync_log_id,
                stream=input.stream,
                cursor_in=input.cursor,
                limit=input.max_pages,
            )
        pages: list[PageRef] = []
        cursor = input.cursor
        for row in staged:
            pages.append(
                PageRef(
                    page_id=row.page_id,
                    stream=input.stream,
                    cursor_in=cursor,
                    cursor_out=row.cursor_out,
                    has_more=row.has_more,
                    record_count=row.record_count,
                )
            )
            cursor = row.cursor_out
        if pages and input.estimate_total:
            client = await self.deps.client_for(input.credential_id)
            pages[0].estimated_total = await self._estimate(client, input)
        if pages:
            log.info(
                "kept pages staged by an earlier attempt",
                stream=input.stream,
                pages=len(pages),
                attempt=activity.info().attempt,
            )
        return pages

    async def _download(self, input: FetchPageInput, previous: dict[str, Any]) -> _Downloaded:
        """GET one export page (and, on a stream's first page, its count estimate)."""
        waits = int(previous.get("rate_limited", 0))
        server_errors = int(previous.get("server_errors", 0))
        async with heartbeating(
            stream=input.stream,
            cursor=input.cursor,
            rate_limited=waits,
            server_errors=server_errors,
            phase="fetching",
        ) as beat:
            client = await self.deps.client_for(input.credential_id)
            try:
                page = await client.fetch_export_page(ExportStream(input.stream), input.cursor)
            except RateLimited as error:
                beat.send(rate_limited=waits + 1, server_errors=0)
                raise errors.from_servicetitan(error) from None
            except CredentialsRejected as error:
                self.deps.forget(input.credential_id)
                raise errors.from_servicetitan(error) from None
            except ServiceTitanError as error:
                beat.send(server_errors=server_errors + 1)
                raise errors.from_servicetitan(
                    error, consecutive_server_errors=server_errors + 1
                ) from None
            # The count for progress bars is a request of its own. A full sync asks it
            # alongside its first batch (``_count_alongside``); an incremental sync, whose
            # changes mostly fit one page, only when the page says more follow.
            estimated = None
            if input.estimate_total and input.cursor is not None:
                more = page.has_more
                estimated = await self._estimate(client, input) if more else page.record_count
        return _Downloaded(input, page, estimated, waits)

    async def _stage(
        self, downloaded: _Downloaded, *, apply_empty: bool = False
    ) -> tuple[PageRef, ApplyResult | None]:
        """Store a downloaded page (the page of record), start its mapping, hand it over.

        The mapping starts here when the workflow says the data it reads is written
        (``prepare``: an invoice page needs its customers' types); the apply maps the page
        again if its row context changed. Only with a mapping process: mapping on the event
        loop here would only move the work. A page without records, when ``apply_empty``,
        is applied here and then: its cursor and the run's progress, in the same transaction.
        """
        input, page = downloaded.input, downloaded.page
        ref = downloaded.ref()
        body = await staged_body.pack_async(page.raw)
        handed = unprepared(input.stream, page.raw)
        applied: ApplyResult | None = None
        async with self.deps.database.transaction() as connection:
            owner = await check_run(connection, input.credential_id, input.sync_log_id)
            again = await staged_before(
                connection,
                sync_log_id=input.sync_log_id,
                stream=input.stream,
                cursor_in=input.cursor,
            )
            ref.page_id = await stage_page(
                connection,
                credential_id=input.credential_id,
                sync_log_id=input.sync_log_id,
                stream=input.stream,
                cursor_in=input.cursor,
                cursor_out=ref.cursor_out,
                has_more=page.has_more,
                record_count=page.record_count,
                body=body,
            )
            if apply_empty and page.record_count == 0 and owner.import_job_id is not None:
                applied = await self._apply_empty(connection, input, ref, owner.import_job_id)
            elif (
                input.prepare
                and self.deps.mapping.processes > 0
                and owner.import_job_id is not None
            ):
                credential = await credential_context(connection, input.credential_id)
                context = row_context(credential, owner.import_job_id)
                [handed] = await prepare_pages(
                    self.deps, connection, input.stream, [handed], context
                )
        if applied is None:
            self.deps.handoff.put(handoff_key(ref), handed)
        else:
            metrics.current().pages_applied(input.credential_id, [(input.stream, applied)])
        metrics.current().page_fetched(input.stream, refetched=again)
        return ref, applied

    async def _apply_empty(
        self, connection: AsyncConnection, input: FetchPageInput, ref: PageRef, import_job_id: int
    ) -> ApplyResult:
        """Apply a page without records: record its cursor and mark it applied."""
        enabled, reason = await record_page_progress(
            connection,
            credential_id=input.credential_id,
            sync_log_id=input.sync_log_id,
            import_job_id=import_job_id,
            stream=input.stream,
            continue_from=ref.cursor_out or ref.cursor_in or None,
            high_water=None,
            processed=0,
            rejected=0,
            expected_total=input.expected_total,
            globally=self.deps.settings.sync_enabled,
        )
        result = ApplyResult(sync_enabled=enabled, disabled_reason=reason)
        await mark_applied(connection, ref.page_id, dataclasses.asdict(result))
        return result

    async def _estimate(self, client: ServiceTitanClient, input: FetchPageInput) -> int | None:
        """How many records this stream will bring, for progress bars; None when unknown."""
        resource = _COUNTABLE.get(input.stream)
        if resource is None:
            return None
        since = None
        if input.cursor is not None:
            async with self.deps.database.transaction() as connection:
                since = await high_water(connection, input.credential_id, input.stream)
            if since is None:
                return None  # a date or token we cannot translate into a count
        try:
            return await client.count(resource, modified_on_or_after=since)
        except ServiceTitanError as error:  # progress only: never fail a page over it
            log.warning("count estimate failed", stream=input.stream, error=str(error))
            return None


@dataclass(frozen=True)
class _Downloaded:
    """A page as received, not yet staged."""

    input: FetchPageInput
    page: ExportPage
    estimated: int | None
    rate_limit_waits: int

    def ref(self) -> PageRef:
        """The page's reference (``page_id`` 0 until it is staged)."""
        input = self.input
        return PageRef(
            page_id=0,
            stream=input.stream,
            cursor_in=input.cursor,
            cursor_out=self.page.continue_from or input.cursor,
            has_more=self.page.has_more,
            record_count=self.page.record_count,
            rate_limit_waits=self.rate_limit_waits,
            estimated_total=self.estimated,
        )


def _position(input: FetchPageInput, cursor: str | None) -> tuple[int, int, str, str | None]:
    """Where a prefetched page was requested from: the run, the stream and the cursor."""
    return (input.credential_id, input.sync_log_id, input.stream, cursor)
