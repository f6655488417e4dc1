"""SyncWorkflow: one credential's sync, page by page, resumable exactly.

The workflow is an orchestrator only. It never sees a record or a secret: activities stage
pages in PostgreSQL and hand back small references; the durable cursor lives in PostgreSQL,
committed with the rows it covers. So after a crash Temporal replays this code, the activity
that was running is retried, and at most the pages in flight are fetched again (two: the one
being stored and the next, downloading meanwhile).

Pages travel in batches (``fetch_pages``, ``map_and_insert_pages``), and fetching the next
batch overlaps applying the current one. Long syncs continue-as-new with their positions and
the batch already fetched, so history stays bounded however big the tenant is. The data flow
is described in docs/architecture.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from contracts import search_attributes as sa
    from contracts.sync import (
        NON_RETRYABLE_ERRORS,
        ActivityName,
        ApplyPagesInput,
        ApplyPagesResult,
        DispatchInput,
        DispatchResult,
        ErrorType,
        FetchPageInput,
        FinishRunInput,
        PageBatch,
        PageRef,
        RefreshTokenInput,
        RunContext,
        StartRunInput,
        StreamProgress,
        SyncInput,
        SyncProgress,
        SyncResult,
        SyncResume,
        TokenStatus,
    )

from workflows.paging import BatchPlan, CursorWatch, StreamOutcome

WORKFLOW_ID_PREFIX = "servicetitan-sync-"
DEFAULT_PAGES_BEFORE_CONTINUE_AS_NEW = 500
MAX_REFETCHES = 3
"""Times a stream fetches a lost staged page again before the sync fails."""
# A worker that dies mid-activity is noticed after this long (activities beat every 3 s).
HEARTBEAT_TIMEOUT = timedelta(seconds=15)

# Bookkeeping against PostgreSQL: retried through database blips, quickly.
_DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=40,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)
# Calls to ServiceTitan: 429s wait for Retry-After (next_retry_delay), 5xx back off.
_API_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=60,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)


T = TypeVar("T")


async def _waiting_out_rate_limits(call: Callable[[], Awaitable[T]]) -> T:
    """Run an API activity; when 429s outlast its whole retry policy, start another round.

    ServiceTitan throttles for a while, never for good, so a rate limit must not fail a sync
    however many attempts it costs (at Retry-After: 1, the policy's 60 attempts are a minute).
    The policy's cap still bounds server errors, timeouts and everything else.
    """
    while True:
        try:
            return await call()
        except ActivityError as error:
            if _error_type(error) != ErrorType.RATE_LIMITED:
                raise
            workflow.logger.warning("still rate limited after a full round of retries; waiting on")


def workflow_id_for(credential_id: int) -> str:
    """The one id a credential's sync can have: Temporal refuses a second while one runs."""
    return f"{WORKFLOW_ID_PREFIX}{credential_id}"


def describe_failure(error: BaseException) -> str:
    """The innermost readable message of an activity/child failure chain.

    ``.message``, not ``str()``: the latter prefixes the error type, which the type column
    of the failure already says.
    """
    message = error.message if isinstance(error, FailureError) else str(error)
    current: BaseException | None = error
    while current is not None:
        if (
            isinstance(current, FailureError)
            and not isinstance(current, ActivityError)
            and current.message
        ):
            message = current.message
        current = current.__cause__
    return message


def _error_type(error: BaseException) -> str | None:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError) and current.type:
            return current.type
        current = current.__cause__
    return None


@workflow.defn(name="SyncWorkflow")
class SyncWorkflow:
    def __init__(self) -> None:
        self._input: SyncInput | None = None
        self._streams: list[StreamProgress] = []
        self._sync_log_id: int | None = None
        self._status = "starting"
        self._current: str | None = None
        self._runs = 1
        self._started_at = ""
        self._refresh_after: datetime | None = None
        self._cursor_watches: dict[str, CursorWatch] = {}

    # --- visibility -------------------------------------------------------------------------

    @workflow.query
    def progress(self) -> SyncProgress:
        assert self._input is not None
        return SyncProgress(
            credential_id=self._input.credential_id,
            sync_log_id=self._sync_log_id,
            status=self._status,
            trigger=self._input.trigger,
            mode=self._input.mode,
            data_type=self._input.data_type,
            current_stream=self._current,
            streams=self._streams,
            runs=self._runs,
            started_at=self._started_at,
        )

    def _show(self) -> None:
        parts = []
        for stream in self._streams:
            state = (
                "done"
                if stream.done
                else ("syncing" if stream.stream == self._current else "waiting")
            )
            parts.append(
                f"{stream.stream}: {state}, {stream.pages} pages, {stream.records} records"
            )
        workflow.set_current_details(f"**{self._status}** — " + "; ".join(parts))

    # --- the run ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: SyncInput) -> SyncResult:
        self._input = input
        self._started_at = workflow.now().isoformat()
        try:
            context = await self._begin(input)
        except ActivityError as error:
            self._status = "failed"
            raise ApplicationError(
                describe_failure(error), type=_error_type(error), non_retryable=True
            ) from None
        self._status = "running"
        self._show()
        try:
            await self._refresh_token(input.credential_id, force=False)
            carried = list(input.resume.pending_pages) if input.resume else []
            pages_this_run = 0
            for stream in self._streams:
                if stream.done:
                    continue
                self._current = stream.stream
                outcome = await self._sync_stream(input, context, stream, carried, pages_this_run)
                carried = []
                if outcome.carry is not None:
                    await self._continue_as_new(input, context, outcome.carry)
                pages_this_run = outcome.pages_this_run
            self._current = None
            return await self._complete(input, context)
        except (ActivityError, ApplicationError) as error:
            await self._fail(input, context, error)
            raise ApplicationError(
                describe_failure(error), type=_error_type(error), non_retryable=True
            ) from None
        except asyncio.CancelledError:
            await self._fail(input, context, None, message="sync cancelled by an operator")
            raise

    async def _begin(self, input: SyncInput) -> RunContext:
        if input.resume is not None:
            resume = input.resume
            self._streams = resume.streams
            self._sync_log_id = resume.sync_log_id
            self._runs = resume.runs + 1
            self._started_at = resume.started_at or self._started_at
            return RunContext(
                resume.sync_log_id,
                resume.import_job_id,
                resume.company_id,
                resume.tenant_id,
                resume.streams,
            )
        info = workflow.info()
        context: RunContext = await workflow.execute_activity(
            ActivityName.START_RUN,
            StartRunInput(
                credential_id=input.credential_id,
                data_type=input.data_type,
                trigger=input.trigger,
                mode=input.mode,
                from_date=input.from_date,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            ),
            result_type=RunContext,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_DB_RETRY,
        )
        self._streams = context.streams
        self._sync_log_id = context.sync_log_id
        workflow.upsert_search_attributes(
            [
                sa.CREDENTIAL_ID.value_set(input.credential_id),
                sa.COMPANY_ID.value_set(context.company_id),
                sa.TENANT_ID.value_set(context.tenant_id),
                sa.TRIGGER.value_set(input.trigger),
                sa.DATA_TYPE.value_set(input.data_type),
                sa.STATUS.value_set("running"),
            ]
        )
        return context

    async def _refresh_token(self, credential_id: int, *, force: bool) -> None:
        status: TokenStatus = await _waiting_out_rate_limits(
            lambda: workflow.execute_activity(
                ActivityName.REFRESH_TOKEN,
                RefreshTokenInput(credential_id=credential_id, force=force),
                result_type=TokenStatus,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=_API_RETRY,
            )
        )
        self._refresh_after = datetime.fromisoformat(status.refresh_after)

    async def _token_if_due(self, credential_id: int) -> None:
        if self._refresh_after is None or workflow.now() >= self._refresh_after:
            await self._refresh_token(credential_id, force=False)

    def _fetch(
        self,
        input: SyncInput,
        context: RunContext,
        stream: StreamProgress,
        cursor: str | None,
        max_pages: int,
    ) -> asyncio.Task[list[PageRef]]:
        fetch = FetchPageInput(
            credential_id=input.credential_id,
            sync_log_id=context.sync_log_id,
            stream=stream.stream,
            cursor=cursor,
            estimate_total=stream.pages == 0 and stream.estimated_total is None,
            max_pages=max_pages,
        )
        return asyncio.ensure_future(self._fetch_pages(fetch))

    async def _fetch_pages(self, fetch: FetchPageInput) -> list[PageRef]:
        batch: PageBatch = await _waiting_out_rate_limits(
            lambda: workflow.execute_activity(
                ActivityName.FETCH_PAGES,
                fetch,
                result_type=PageBatch,
                start_to_close_timeout=timedelta(minutes=5 * fetch.max_pages),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=_API_RETRY,
                # A fetch abandoned by a failing sync must be over before ``finish_run``
                # removes the run's staged pages, or it could stage pages nothing removes.
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        )
        return batch.pages

    async def _sync_stream(
        self,
        input: SyncInput,
        context: RunContext,
        stream: StreamProgress,
        carried: list[PageRef],
        pages_this_run: int,
    ) -> StreamOutcome:
        """Sync one stream: fetch the next batch while the current one is applied.

        Ends when the stream has no more pages, or when the run has applied its share of
        pages (then the outcome carries the batch already fetched into a continue-as-new).
        A fetch still running when the stream fails is cancelled and awaited first.
        """
        plan = BatchPlan(
            limit=input.pages_before_continue_as_new or DEFAULT_PAGES_BEFORE_CONTINUE_AS_NEW
        )
        next_fetch: asyncio.Task[list[PageRef]] | None = None
        try:
            await self._token_if_due(input.credential_id)
            if not carried:
                next_fetch = self._fetch(
                    input, context, stream, stream.cursor, plan.next_size(pages_this_run)
                )
            refetches = 0
            while True:
                if carried:
                    pages, carried = carried, []
                else:
                    assert next_fetch is not None
                    pages = await next_fetch
                    next_fetch = None
                self._take_page_facts(stream, pages)
                last = pages[-1]
                if last.has_more:
                    await self._token_if_due(input.credential_id)
                    next_fetch = self._fetch(
                        input,
                        context,
                        stream,
                        last.cursor_out,
                        plan.next_size(pages_this_run + len(pages)),
                    )
                outcome = await self._apply(input, context, stream, pages)
                pages_this_run += len(outcome.results)
                self._show()
                if outcome.missing:
                    # PostgreSQL truncates UNLOGGED staged pages when it restarts after a
                    # crash: fetch the page again from the same position.
                    refetches += 1
                    missing = pages[len(outcome.results)]
                    if refetches > MAX_REFETCHES:
                        raise ApplicationError(
                            f"staged {missing.stream} page {missing.page_id} is gone again "
                            f"after {MAX_REFETCHES} fetches (PostgreSQL keeps restarting?)",
                            type=ErrorType.STAGED_PAGE_MISSING,
                            non_retryable=True,
                        )
                    if next_fetch is not None:
                        await workflow.wait([next_fetch])  # its staged copy may be gone too
                    next_fetch = self._fetch(
                        input, context, stream, missing.cursor_in, plan.next_size(pages_this_run)
                    )
                    continue
                stopped = next((r for r in outcome.results if not r.sync_enabled), None)
                if stopped is not None:
                    if next_fetch is not None:
                        await next_fetch  # let it finish staging; finish_run removes it
                        next_fetch = None
                    raise ApplicationError(
                        f"sync stopped at a page boundary: {stopped.disabled_reason}",
                        type=ErrorType.SYNC_DISABLED,
                        non_retryable=True,
                    )
                if not last.has_more:
                    stream.done = True
                    return StreamOutcome(pages_this_run)
                if pages_this_run >= plan.limit or workflow.info().is_continue_as_new_suggested():
                    assert next_fetch is not None
                    staged = await next_fetch  # the next run applies them first
                    next_fetch = None
                    return StreamOutcome(pages_this_run, carry=staged)
        finally:
            if next_fetch is not None and not next_fetch.done():
                next_fetch.cancel()
                await workflow.wait([next_fetch])

    def _take_page_facts(self, stream: StreamProgress, pages: list[PageRef]) -> None:
        """Refuse a feed that never ends; keep each page's estimate and rate-limit waits.

        A cursor that stays put, leads back to a position this run read from, or moves on
        through ``MAX_EMPTY_PAGES_IN_A_ROW`` empty pages will never reach ``hasMore`` false:
        the sync fails at once (``STUCK_CURSOR``, not retryable) instead of paging for ever.
        """
        watch = self._cursor_watches.setdefault(stream.stream, CursorWatch())
        for page in pages:
            problem = watch.see(page)
            if problem is not None:
                raise ApplicationError(
                    f"{stream.stream}: {problem}", type=ErrorType.STUCK_CURSOR, non_retryable=True
                )
            if page.estimated_total is not None:
                stream.estimated_total = page.estimated_total
            stream.rate_limit_waits += page.rate_limit_waits

    async def _apply(
        self, input: SyncInput, context: RunContext, stream: StreamProgress, pages: list[PageRef]
    ) -> ApplyPagesResult:
        outcome: ApplyPagesResult = await workflow.execute_activity(
            ActivityName.MAP_AND_INSERT_PAGES,
            ApplyPagesInput(
                credential_id=input.credential_id,
                sync_log_id=context.sync_log_id,
                import_job_id=context.import_job_id,
                pages=pages,
                expected_total=stream.estimated_total,
            ),
            result_type=ApplyPagesResult,
            start_to_close_timeout=timedelta(minutes=10 * len(pages)),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=_DB_RETRY,
        )
        for page, result in zip(pages, outcome.results, strict=False):
            stream.pages += 1
            stream.records += page.record_count
            stream.inserted += result.inserted
            stream.updated += result.updated
            stream.unchanged += result.unchanged
            stream.rejected += result.rejected
            stream.cursor = page.cursor_out
        return outcome

    async def _continue_as_new(
        self, input: SyncInput, context: RunContext, staged: list[PageRef]
    ) -> None:
        resume = SyncResume(
            sync_log_id=context.sync_log_id,
            import_job_id=context.import_job_id,
            company_id=context.company_id,
            tenant_id=context.tenant_id,
            streams=self._streams,
            runs=self._runs,
            started_at=self._started_at,
            pending_pages=staged,
        )
        workflow.continue_as_new(
            SyncInput(
                credential_id=input.credential_id,
                data_type=input.data_type,
                trigger=input.trigger,
                mode=input.mode,
                from_date=input.from_date,
                pages_before_continue_as_new=input.pages_before_continue_as_new,
                resume=resume,
            )
        )

    def _totals(self) -> tuple[int, int]:
        processed = sum(s.inserted + s.updated + s.unchanged for s in self._streams)
        rejected = sum(s.rejected for s in self._streams)
        return processed, rejected

    async def _complete(self, input: SyncInput, context: RunContext) -> SyncResult:
        processed, rejected = self._totals()
        dispatched = False
        if processed > 0:
            dispatch: DispatchResult = await workflow.execute_activity(
                ActivityName.DISPATCH,
                DispatchInput(
                    sync_log_id=context.sync_log_id,
                    credential_id=input.credential_id,
                    company_id=context.company_id,
                    records_synced=processed,
                ),
                result_type=DispatchResult,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=_DB_RETRY,
            )
            dispatched = dispatch.dispatched
        await self._finish(input, context, "completed", processed, rejected, None, False)
        self._status = "completed"
        workflow.upsert_search_attributes([sa.STATUS.value_set("completed")])
        self._show()
        return SyncResult(
            credential_id=input.credential_id,
            sync_log_id=context.sync_log_id,
            status="completed",
            records_processed=processed,
            records_rejected=rejected,
            streams=self._streams,
            dispatched=dispatched,
        )

    async def _fail(
        self,
        input: SyncInput,
        context: RunContext,
        error: BaseException | None,
        *,
        message: str | None = None,
    ) -> None:
        processed, rejected = self._totals()
        text = message or (describe_failure(error) if error else "sync failed")
        rejected_credentials = error is not None and (
            _error_type(error) == ErrorType.CREDENTIALS_REJECTED
        )
        self._status = "failed"
        workflow.upsert_search_attributes([sa.STATUS.value_set("failed")])
        self._show()
        await self._finish(
            input, context, "failed", processed, rejected, text, rejected_credentials
        )

    async def _finish(
        self,
        input: SyncInput,
        context: RunContext,
        status: str,
        processed: int,
        rejected: int,
        error: str | None,
        credentials_rejected: bool,
    ) -> None:
        await workflow.execute_activity(
            ActivityName.FINISH_RUN,
            FinishRunInput(
                sync_log_id=context.sync_log_id,
                credential_id=input.credential_id,
                import_job_id=context.import_job_id,
                status="completed" if status == "completed" else "failed",
                records_processed=processed,
                records_rejected=rejected,
                streams=self._streams,
                error_message=error,
                credentials_rejected=credentials_rejected,
            ),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_DB_RETRY,
        )
