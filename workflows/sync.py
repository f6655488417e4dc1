"""SyncWorkflow: one credential's sync, page by page, resumable exactly.

The workflow is an orchestrator only. It never sees a record or a secret: activities stage
pages in PostgreSQL and hand back small references; the durable cursor lives in PostgreSQL,
committed with the rows it covers. So after a crash Temporal replays this code, the activity
that was running is retried, and at most the pages in flight are fetched again (two: the one
being stored and the next, downloading meanwhile).

Pages travel in batches (``fetch_pages``, ``map_and_insert_pages``), and fetching the next
batch overlaps applying the current one. An incremental sync starts with every stream's first
page in one activity (``fetch_first_pages``), which applies the whole feeds among them; the
run's bookkeeping (``start_run``, ``dispatch``, ``finish_run``) runs as local activities.
Long syncs continue-as-new with their positions and the batch already fetched, so history
stays bounded however big the tenant is. The data flow is described in docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    RetryState,
    TimeoutError,
    TimeoutType,
)
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
        FirstPage,
        FirstPagesInput,
        FirstPagesResult,
        PageBatch,
        PageRef,
        RefreshTokenInput,
        RunContext,
        StartRunInput,
        Stream,
        StreamProgress,
        SyncInput,
        SyncProgress,
        SyncResult,
        SyncResume,
        TokenStatus,
    )

from workflows.paging import StreamOutcome
from workflows.stream_run import FetchRequest, Gate, RunBudget, StreamRun

WORKFLOW_ID_PREFIX = "servicetitan-sync-"
DEFAULT_PAGES_BEFORE_CONTINUE_AS_NEW = 500
APPLIED_AFTER: dict[Stream, Stream] = {"customers": "customer_contacts", "invoices": "customers"}
"""Streams fetched at once but applied only after another completes. An invoice row takes
its customer's type (``records.invoice``), so the run's customers must be written first. A
member's phone and email come from its contacts: with the contacts written first, each member
row is written once, instead of again by every contacts page that finds it."""
ORDER_ONLY: frozenset[Stream] = frozenset({"customers"})
"""Of those, the streams whose wait only saves work (rows are right in either order): they
stop waiting when their downloads are latency-bound (``stream_run.LATENCY_BOUND_PAGE``)."""
# A worker that dies mid-activity is noticed after this long (activities beat every second;
# the SDK sends at most one beat per 80% of the timeout).
HEARTBEAT_TIMEOUT = timedelta(seconds=5)
ROUTED_START_TIMEOUT = timedelta(seconds=2)
"""How long an activity sent to the worker holding a stream's pages may wait to start before
it goes to the shared queue (the worker may have died)."""
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
"""Start option of every sync (Temporal's default is 10 s): a worker that dies while running a
workflow task is noticed after this long. A task is a few milliseconds of work."""

# Bookkeeping against PostgreSQL: retried through database blips, quickly.
_DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=40,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)
# The one attempt of an apply routed to a worker's own queue (see ``_on_worker``).
_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1, non_retryable_error_types=NON_RETRYABLE_ERRORS)
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


async def _on_worker(
    queue: str | None, call: Callable[[str | None], Awaitable[T]], *, retry_here: bool = True
) -> T:
    """Run an activity on a worker's own queue; on the shared one if that worker is gone.

    A stream's work follows the worker that fetched its last pages (it holds them, mapped).
    When that worker is gone (or too busy to start the task in ``ROUTED_START_TIMEOUT``),
    the activity times out before it starts, which Temporal never retries: run it on the
    shared queue instead, where any worker takes it from the staged pages. A call made with
    ``retry_here=False`` gets one attempt on the worker's queue (``_ONE_ATTEMPT``): whatever
    its retry policy would retry, above all the heartbeat timeout of a worker that died
    mid-activity, is retried on the shared queue at once, not after the retry interval and
    ``ROUTED_START_TIMEOUT`` on the queue of a worker that may be dead.
    """
    if queue is None:
        return await call(None)
    try:
        return await call(queue)
    except ActivityError as error:
        if not (_not_started(error) or (not retry_here and _retryable(error))):
            raise
        workflow.logger.info("the worker holding the stream did not answer; any worker now")
        return await call(None)


def _not_started(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_START


def _retryable(error: ActivityError) -> bool:
    """Whether the failed attempt was one the retry policy would have retried."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and (
        cause.non_retryable or cause.type in NON_RETRYABLE_ERRORS
    ):
        return False
    return error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED


def _fetch_input(
    input: SyncInput, context: RunContext, stream: StreamProgress, request: FetchRequest
) -> FetchPageInput:
    """What ``fetch_pages`` gets for a stream's next fetch."""
    return FetchPageInput(
        credential_id=input.credential_id,
        sync_log_id=context.sync_log_id,
        stream=stream.stream,
        cursor=request.cursor,
        estimate_total=request.estimate_total,
        max_pages=request.max_pages,
        prepare=request.prepare,
        apply_empty=request.apply_empty,
        expected_total=stream.estimated_total,
    )


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
        self._active: set[str] = set()
        """Streams syncing right now (they run at once)."""
        self._refreshing: asyncio.Future[None] | None = None
        self._runs = 1
        self._started_at = ""
        self._refresh_after: datetime | None = None

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
            current_stream=next(
                (s.stream for s in self._streams if s.stream in self._active), None
            ),
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
                else ("syncing" if stream.stream in self._active else "waiting")
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
            if context.token_refresh_after:
                self._refresh_after = datetime.fromisoformat(context.token_refresh_after)
            await self._token_before_fetch(input.credential_id)
            carried = list(input.resume.pending_pages) if input.resume else []
            staged = await self._sync_streams(input, context, carried)
            if staged is not None:
                await self._continue_as_new(input, context, staged)
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
        context: RunContext = await workflow.execute_local_activity(
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

    async def _token_before_fetch(self, credential_id: int) -> None:
        """Refresh the token when due; streams fetching at once share one refresh."""
        if self._refreshing is not None:
            await self._refreshing
            return
        if self._refresh_after is not None and workflow.now() < self._refresh_after:
            return
        self._refreshing = asyncio.ensure_future(self._refresh_token(credential_id, force=False))
        try:
            await self._refreshing
        finally:
            self._refreshing = None

    async def _sync_streams(
        self, input: SyncInput, context: RunContext, carried: list[PageRef]
    ) -> list[PageRef] | None:
        """Sync every stream not done yet, all at once; None when all are done.

        Otherwise the run's page budget ran out: the pages fetched and not applied yet, for
        the next run to apply first. The first stream to fail stops the others (each awaits
        its fetch) before the failure is raised.
        """
        budget = RunBudget(
            limit=input.pages_before_continue_as_new or DEFAULT_PAGES_BEFORE_CONTINUE_AS_NEW
        )
        by_name = {stream.stream: stream for stream in self._streams}
        gates: dict[Stream, Gate] = {}
        for stream in self._streams:
            if stream.done:
                continue
            waits_for = by_name.get(APPLIED_AFTER.get(stream.stream, stream.stream))
            gates[stream.stream] = Gate(
                waits_for if waits_for is not stream else None,
                order_only=stream.stream in ORDER_ONLY,
            )
        first: dict[Stream, PageBatch | None] = {}
        incremental = bool(gates) and all(by_name[name].cursor is not None for name in gates)
        if input.resume is None and incremental:
            first = await self._fetch_first_pages(input, context, gates)
        runs: list[StreamRun] = []
        for name, gate in gates.items():
            stream = by_name[name]
            runs.append(
                StreamRun(
                    stream,
                    [page for page in carried if page.stream == stream.stream],
                    budget,
                    gate,
                    fetch=functools.partial(self._fetch, input, context, stream),
                    apply=functools.partial(self._apply, input, context, stream),
                    before_fetch=functools.partial(self._token_before_fetch, input.credential_id),
                    first=first.get(name),
                )
            )
        tasks = [asyncio.ensure_future(self._run_stream(run, list(gates.values()))) for run in runs]
        try:
            await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            outcomes = [task.result() for task in tasks]
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            await workflow.wait(tasks)
        if all(outcome.carry is None for outcome in outcomes):
            return None
        return [page for outcome in outcomes for page in outcome.carry or []]

    async def _fetch_first_pages(
        self, input: SyncInput, context: RunContext, gates: dict[Stream, Gate]
    ) -> dict[Stream, PageBatch | None]:
        """An incremental sync's first page of every stream, in one activity.

        The pages that are their streams' whole feeds come back applied, in stream order;
        each stream's run goes on from its batch as from its own first fetch.
        """
        await self._token_before_fetch(input.credential_id)
        streams = [
            FirstPage(
                _fetch_input(
                    input,
                    context,
                    progress,
                    FetchRequest(
                        cursor=progress.cursor,
                        max_pages=1,
                        estimate_total=progress.estimated_total is None,
                        prepare=gates[name].open,
                        apply_empty=True,
                        worker_queue=None,
                    ),
                ),
                applied_after=None if gates[name].open else APPLIED_AFTER[name],
            )
            for progress in self._streams
            if (name := progress.stream) in gates
        ]
        result: FirstPagesResult = await workflow.execute_activity(
            ActivityName.FETCH_FIRST_PAGES,
            FirstPagesInput(import_job_id=context.import_job_id, streams=streams),
            result_type=FirstPagesResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=_DB_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return {
            first.fetch.stream: batch for first, batch in zip(streams, result.batches, strict=True)
        }

    async def _run_stream(self, run: StreamRun, gates: list[Gate]) -> StreamOutcome:
        self._active.add(run.stream.stream)
        try:
            return await run.run()
        finally:
            self._active.discard(run.stream.stream)
            for gate in gates:
                gate.stream_ended(run.stream)
            self._show()

    async def _fetch(
        self, input: SyncInput, context: RunContext, stream: StreamProgress, request: FetchRequest
    ) -> PageBatch:
        fetch = _fetch_input(input, context, stream, request)
        batch: PageBatch = await _waiting_out_rate_limits(
            lambda: _on_worker(
                request.worker_queue,
                lambda queue: workflow.execute_activity(
                    ActivityName.FETCH_PAGES,
                    fetch,
                    result_type=PageBatch,
                    task_queue=queue,
                    schedule_to_start_timeout=ROUTED_START_TIMEOUT if queue else None,
                    start_to_close_timeout=timedelta(minutes=5 * fetch.max_pages),
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=_API_RETRY,
                    # A fetch abandoned by a failing sync must be over before ``finish_run``
                    # removes the run's staged pages, or it could stage pages nothing removes.
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                ),
            )
        )
        self._show()
        return batch

    async def _apply(
        self,
        input: SyncInput,
        context: RunContext,
        stream: StreamProgress,
        pages: list[PageRef],
        following: list[PageRef],
        worker_queue: str | None,
    ) -> ApplyPagesResult:
        apply = ApplyPagesInput(
            credential_id=input.credential_id,
            sync_log_id=context.sync_log_id,
            import_job_id=context.import_job_id,
            pages=pages,
            expected_total=stream.estimated_total,
            following=following,
        )
        # One attempt on the worker's queue: a retry is as cheap anywhere (the pages are
        # staged), and the worker may be dead (a fetch's retries stay: they pace 429s).
        outcome: ApplyPagesResult = await _on_worker(
            worker_queue,
            lambda queue: workflow.execute_activity(
                ActivityName.MAP_AND_INSERT_PAGES,
                apply,
                result_type=ApplyPagesResult,
                task_queue=queue,
                schedule_to_start_timeout=ROUTED_START_TIMEOUT if queue else None,
                start_to_close_timeout=timedelta(minutes=10 * len(pages)),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=_ONE_ATTEMPT if queue else _DB_RETRY,
            ),
            retry_here=False,
        )
        self._show()
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
            dispatch: DispatchResult = await workflow.execute_local_activity(
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
        await workflow.execute_local_activity(
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
