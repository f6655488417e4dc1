"""The sync's side effects, one activity per step of ARCHITECTURE.md §3.

Each activity is safe to run twice. ``fetch_page`` stages the raw response bytes (no parsing
beyond the envelope) and returns a reference; ``map_and_insert`` maps the staged page and, in
ONE transaction, upserts the rows, quarantines rejects, advances the cursor, updates progress
and marks the page applied — so the database never holds half a page, and a retried apply of
an applied page changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities import errors, futures, staged_body
from contracts.sync import (
    STREAMS_FOR,
    ActivityName,
    ApplyPageInput,
    ApplyPagesInput,
    ApplyPagesResult,
    ApplyResult,
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
    TokenStatus,
)
from activities.dependencies import SyncDependencies
from activities.heartbeat import heartbeating, previous_details
from activities.page_handoff import HandedPage
from core.crypto import DecryptionError
from core.logging import get_logger
from db import dispatch as outbox
from db import sync_runs
from db.credentials import NotFoundError
from db.record_writer import (
    RowContext,
    UpsertCounts,
    analyze_statistics,
    invoice_table,
    member_table,
    stale_statistics,
    upsert_batches,
    upsert_contact_batches,
)
from records.contact import CONTACT_COLUMNS
from records.invoice import INVOICE_COLUMNS
from records.member import MEMBER_COLUMNS
from records.pipeline import Reject
from records.prepared import PreparedPage
from servicetitan.auth import TokenProvider
from servicetitan.client import ServiceTitanClient
from servicetitan.config import Credentials
from servicetitan.errors import CredentialsRejected, RateLimited, ServiceTitanError
from servicetitan.http import shared_http_client
from servicetitan.pages import ExportPage, ExportStream, ListResource
from servicetitan.projection import invoice_customer_ids

log = get_logger(__name__)

_COUNTABLE = {"invoices": ListResource.INVOICES, "customers": ListResource.CUSTOMERS}
INVOICES = invoice_table(INVOICE_COLUMNS)
MEMBERS = member_table(MEMBER_COLUMNS)


class SyncActivities:
    """Activities bound to the worker's shared dependencies (samples-python's class style)."""

    def __init__(self, deps: SyncDependencies) -> None:
        self.deps = deps

    def all(self) -> list[Any]:
        return [
            self.start_run,
            self.refresh_token,
            self.fetch_pages,
            self.map_and_insert_pages,
            self.dispatch,
            self.finish_run,
        ]

    # --- start ------------------------------------------------------------------------------

    @activity.defn(name=ActivityName.START_RUN)
    async def start_run(self, input: StartRunInput) -> RunContext:
        streams = STREAMS_FOR[input.data_type]
        async with self.deps.database.transaction() as connection:
            try:
                credential = await sync_runs.credential_context(
                    connection, input.credential_id, lock=True
                )
            except NotFoundError as error:
                raise errors.from_lookup(error) from None
            allowed, reason = await sync_runs.sync_allowed(
                connection, input.credential_id, globally=self.deps.settings.sync_enabled
            )
            if not allowed:
                raise ApplicationError(
                    f"sync of credential {input.credential_id} refused: {reason}",
                    type=ErrorType.SYNC_DISABLED,
                    non_retryable=True,
                )
            started = await sync_runs.start_run(
                connection,
                credential,
                streams=streams,
                sync_type=input.trigger,
                data_type=input.data_type,
                mode=input.mode,
                from_date=input.from_date,
                workflow_id=input.workflow_id,
                run_id=input.run_id,
                actor=self.deps.actor,
            )
        log.info(
            "sync run started",
            credential_id=input.credential_id,
            sync_log_id=started.sync_log_id,
            mode=input.mode,
            data_type=input.data_type,
        )
        return RunContext(
            sync_log_id=started.sync_log_id,
            import_job_id=started.import_job_id,
            company_id=credential.company_id,
            tenant_id=credential.tenant_id,
            streams=[
                StreamProgress(stream=stream, cursor=started.cursors[stream]) for stream in streams
            ],
        )

    async def _credentials(self, credential_id: int) -> Credentials:
        """The credential's decrypted client id/secret, or a non-retryable, readable failure."""
        try:
            return await self.deps.credentials(credential_id)
        except NotFoundError as error:
            raise errors.from_lookup(error) from None
        except DecryptionError as error:
            raise errors.from_decryption(error) from None

    # --- tokens -----------------------------------------------------------------------------

    @activity.defn(name=ActivityName.REFRESH_TOKEN)
    async def refresh_token(self, input: RefreshTokenInput) -> TokenStatus:
        """Make sure a fresh token is cached (shared by all workers); return only its expiry."""
        credentials = await self._credentials(input.credential_id)
        provider = TokenProvider(
            self.deps.client_config,
            self.deps.token_store,
            self.deps.http or shared_http_client(),
        )
        before = await self.deps.token_store.load(input.credential_id)
        try:
            if input.force and before is not None:
                token = await provider.replace(credentials, before)
            else:
                token = await provider.get(credentials)
        except CredentialsRejected as error:
            self.deps.forget(input.credential_id)
            raise errors.from_servicetitan(error) from None
        except ServiceTitanError as error:
            raise errors.from_servicetitan(error) from None
        now = datetime.now(UTC)
        lifetime = token.expires_at - now
        threshold = timedelta(
            seconds=min(
                self.deps.client_config.token_refresh_threshold_seconds,
                max(lifetime.total_seconds(), 0) / 2,
            )
        )
        return TokenStatus(
            expires_at=token.expires_at.isoformat(),
            refresh_after=(token.expires_at - threshold).isoformat(),
            refreshed=before is None or before.value != token.value,
        )

    # --- fetch ------------------------------------------------------------------------------

    @activity.defn(name=ActivityName.FETCH_PAGES)
    async def fetch_pages(self, input: FetchPageInput) -> PageBatch:
        """Fetch and stage up to ``max_pages`` consecutive pages, following ``continueFrom``.

        Fewer activities per record: each activity costs workflow tasks, Temporal server work
        and SDK work, as much CPU as applying a small page. Only the first page's failure fails
        the activity (and is retried by its policy); when a later page fails, the pages staged
        so far are returned and the next ``fetch_pages`` meets the error on its first page.

        Pipelined: page N+1 is requested as soon as page N's ``continueFrom`` is known, and
        downloads while page N is compressed, staged and handed to the mapping. Pages are
        still staged in order, each only after the one before it.
        """
        # One heartbeat loop for the whole batch: each page's own loop beats only after its
        # first interval, so pages quicker than that would otherwise never beat.
        async with heartbeating(stream=input.stream, cursor=input.cursor, phase="batch") as beat:
            pages = await self._staged_by_earlier_attempts(input)
            following: asyncio.Future[_Downloaded] | None = None
            try:
                if not pages:
                    first = await self._download(input, previous_details())
                    following = self._download_next(input, first.ref(), 1)
                    pages.append(await self._stage(first))
                else:
                    following = self._download_next(input, pages[-1], len(pages))
                while following is not None:
                    beat.update(cursor=pages[-1].cursor_out, pages=len(pages))
                    try:
                        downloaded = await following
                        following = self._download_next(input, downloaded.ref(), len(pages) + 1)
                        pages.append(await self._stage(downloaded))
                    except _LATER_PAGE_ERRORS as error:
                        log.info(
                            "page batch cut short; the next fetch retries",
                            stream=input.stream,
                            pages=len(pages),
                            error=type(error).__name__,
                        )
                        break
            finally:
                futures.discard(following)  # cut short: that page is not staged
        return PageBatch(pages)

    def _download_next(
        self, input: FetchPageInput, last: PageRef, count: int
    ) -> asyncio.Future[_Downloaded] | None:
        """Start downloading the page after ``last`` if the batch has room and there is one."""
        if count >= input.max_pages or not last.has_more:
            return None
        following = dataclasses.replace(input, cursor=last.cursor_out, estimate_total=False)
        return asyncio.ensure_future(self._download(following, {}))

    async def _staged_by_earlier_attempts(self, input: FetchPageInput) -> list[PageRef]:
        """Pages a crashed or failed attempt of this fetch staged already, to keep, not refetch.

        Read from PostgreSQL (heartbeat details may not have reached Temporal before a crash).
        Only on retries: a first attempt's position was never fetched in this run.
        """
        if activity.info().attempt <= 1:
            return []
        async with self.deps.database.transaction() as connection:
            await _check_run(connection, input.credential_id, input.sync_log_id)
            staged = await sync_runs.staged_chain(
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
            client = await self.deps.client_for(
                input.credential_id, await self._credentials(input.credential_id)
            )
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
            client = await self.deps.client_for(
                input.credential_id, await self._credentials(input.credential_id)
            )
            # The count for progress bars is a request of its own: ask it alongside the page
            # instead of after it (one API round trip less on each stream's first page).
            estimate = (
                asyncio.ensure_future(self._estimate(client, input))
                if input.estimate_total
                else None
            )
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
            finally:
                if estimate is not None and sys.exc_info()[0] is not None:
                    estimate.cancel()  # the page failed: its count is of no use
            estimated = await estimate if estimate is not None else None
        return _Downloaded(input, page, estimated, waits)

    async def _stage(self, downloaded: _Downloaded) -> PageRef:
        """Store a downloaded page (the page of record) and hand it to the apply."""
        input, page = downloaded.input, downloaded.page
        ref = downloaded.ref()
        body = await staged_body.pack_async(page.raw)
        customer_ids = invoice_customer_ids(page.raw) if input.stream == "invoices" else []
        async with self.deps.database.transaction() as connection:
            owner = await _check_run(connection, input.credential_id, input.sync_log_id)
            ref.page_id = await sync_runs.stage_page(
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
            handed = await self._start_mapping(
                connection, input, owner, HandedPage(page.raw, customer_ids)
            )
        self.deps.handoff.put(ref.page_id, handed)
        return ref

    async def _start_mapping(
        self,
        connection: AsyncConnection,
        input: FetchPageInput,
        owner: sync_runs.RunOwner,
        page: HandedPage,
    ) -> HandedPage:
        """The fetched page, its mapping started in the mapping process (see page_handoff).

        The page is mapped while the batch before it is written, instead of after its apply
        starts. An invoice page is mapped with the customer types of this moment: streams
        are synced one after another, so every customers page of the run is applied before
        the first invoices page is fetched, and the apply's own lookup would find the same
        types. The apply checks the row context and maps the page again if it changed.
        Only with a mapping process: mapping on the event loop here would only move the work.
        """
        if self.deps.mapping.processes <= 0 or owner.import_job_id is None:
            return page
        credential = await sync_runs.credential_context(connection, input.credential_id)
        context = _row_context(credential, owner.import_job_id)
        types = (
            await sync_runs.customer_types(
                connection, credential.company_id, credential.tenant_id, page.customer_ids
            )
            if input.stream == "invoices"
            else None
        )
        prepared = asyncio.ensure_future(
            self._prepare(None, input.stream, page, context, known_types=types)
        )
        return dataclasses.replace(page, prepared=prepared, context=context.values())

    async def _estimate(self, client: ServiceTitanClient, input: FetchPageInput) -> int | None:
        """How many records this stream will bring, for progress bars; None when unknown."""
        resource = _COUNTABLE.get(input.stream)
        if resource is None:
            return None
        since = None
        if input.cursor is not None:
            async with self.deps.database.transaction() as connection:
                since = await sync_runs.high_water(connection, input.credential_id, input.stream)
            if since is None:
                return None  # a date or token we cannot translate into a count
        try:
            return await client.count(resource, modified_on_or_after=since)
        except ServiceTitanError as error:  # progress only: never fail a page over it
            log.warning("count estimate failed", stream=input.stream, error=str(error))
            return None

    # --- apply ------------------------------------------------------------------------------

    @activity.defn(name=ActivityName.MAP_AND_INSERT_PAGES)
    async def map_and_insert_pages(self, input: ApplyPagesInput) -> ApplyPagesResult:
        """Apply staged pages in order, all in one transaction, as ``map_and_insert``.

        One transaction, not one per page: a page's own pool checkout (with its ping) and
        commit (with its WAL flush) took up to a fifth of its apply time, and the pages are
        applied one after another anyway; a batch now pays them once. The batch commits
        whole pages or none: a failure rolls the batch back and the retry applies all of it
        again from the staged bodies (nothing is fetched again).

        Stops after a page that finds the sync disabled (a page boundary), and before a page
        whose staged body is gone, so the workflow fetches it again from its ``cursor_in``;
        the pages before either commit. A retried attempt finds its applied pages applied
        and changes nothing for them.
        """
        results: list[ApplyResult] = []
        missing = False
        stale: set[str] = set()
        first = input.pages[0]
        # One heartbeat loop for the whole batch (see fetch_pages).
        async with heartbeating(stream=first.stream, cursor=first.cursor_in, phase="batch") as beat:
            # Map every page of the batch in the mapping process right away, in order: while
            # page N is written to PostgreSQL, page N+1 is already being mapped.
            early = await self._prepare_early(input)
            try:
                async with self.deps.database.transaction() as connection:
                    for ref, prepared in zip(input.pages, early, strict=True):
                        beat.update(cursor=ref.cursor_in, page_id=ref.page_id, pages=len(results))
                        page_input = ApplyPageInput(
                            credential_id=input.credential_id,
                            sync_log_id=input.sync_log_id,
                            import_job_id=input.import_job_id,
                            page=ref,
                            expected_total=input.expected_total,
                        )
                        try:
                            result = await self._apply_page(connection, page_input, prepared, stale)
                        except ApplicationError as error:
                            # Raised before the page wrote anything: the pages before it
                            # commit.
                            if error.type != ErrorType.STAGED_PAGE_MISSING:
                                raise
                            missing = True
                            break
                        results.append(result)
                        if not result.sync_enabled:
                            break
            finally:
                _discard(early)
        await self._analyze(stale)
        return ApplyPagesResult(results, missing=missing)

    async def _prepare_early(self, input: ApplyPagesInput) -> list[asyncio.Task[_EarlyPage] | None]:
        """Start preparing the batch's pages this worker fetched (the others prepare later).

        Pages whose mapping their fetch started (``_start_mapping``) only need awaiting.
        """
        handed = [self.deps.handoff.take(ref.page_id) for ref in input.pages]
        unmapped = [page for page in handed if page is not None and page.prepared is None]
        if not unmapped:
            return [
                asyncio.ensure_future(_mapped_at_fetch(page)) if page is not None else None
                for page in handed
            ]
        # A batch is pages of one stream. For invoices, the types of every handed page's
        # customers in one lookup (one pass over the tenant's members instead of one per page).
        customer_ids = sorted({i for page in unmapped for i in page.customer_ids})
        async with self.deps.database.transaction() as connection:
            credential = await sync_runs.credential_context(connection, input.credential_id)
            types = (
                await sync_runs.customer_types(
                    connection, credential.company_id, credential.tenant_id, customer_ids
                )
                if input.pages[0].stream == "invoices"
                else None
            )
        context = _row_context(credential, input.import_job_id)

        async def prepare(ref: PageRef, page: HandedPage) -> _EarlyPage:
            prepared = await self._prepare(None, ref.stream, page, context, known_types=types)
            return _EarlyPage(context.values(), page, prepared)

        return [
            None
            if page is None
            else asyncio.ensure_future(
                _mapped_at_fetch(page) if page.prepared is not None else prepare(ref, page)
            )
            for ref, page in zip(input.pages, handed, strict=True)
        ]

    async def _apply_page(
        self,
        connection: AsyncConnection,
        input: ApplyPageInput,
        early: asyncio.Task[_EarlyPage] | None,
        stale: set[str],
    ) -> ApplyResult:
        """Apply one staged page in the caller's transaction.

        Everything from reading the staged page to marking it applied happens in that
        transaction: the page row is locked from the start (a concurrent retry waits, then
        finds it applied) and read once. Tables whose statistics the page found stale are
        added to ``stale``, for the caller to ANALYZE after its commit (``_analyze``).
        """
        ref = input.page
        async with heartbeating(
            stream=ref.stream, cursor=ref.cursor_in, page_id=ref.page_id, phase="loading"
        ) as beat:
            ready: _EarlyPage | None = None
            if early is not None:
                try:
                    ready = await early
                except Exception as error:  # prepared again below, the usual way
                    log.info("early page preparation failed", error=type(error).__name__)
            handed = ready.page if ready else self.deps.handoff.take(ref.page_id)
            page, credential = await self._page_to_apply(
                connection, input, with_body=handed is None
            )
            if page.applied:
                return self._stored_result(page.result)
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            if page.stream != ExportStream.INVOICES:  # their writes look contacts up
                stale.update(await stale_statistics(driver))
            context = _row_context(credential, input.import_job_id)
            if ready is not None and ready.context == context.values():
                prepared = ready.prepared
            else:
                handed = handed or await self._staged_page(page)
                beat.update(phase="mapping", bytes=len(handed.raw))
                prepared = await self._prepare(connection, page.stream, handed, context)
            beat.update(phase="writing", rows=prepared.mapped, rejects=prepared.rejected)
            counts = await self._write(driver, page.stream, context, prepared)
            await sync_runs.store_rejects(
                connection,
                credential_id=input.credential_id,
                company_id=credential.company_id,
                sync_log_id=input.sync_log_id,
                stream=page.stream,
                rejects=[_reject_row(reject) for reject in prepared.rejects],
            )
            enabled, reason = await sync_runs.record_page_progress(
                connection,
                credential_id=input.credential_id,
                sync_log_id=input.sync_log_id,
                import_job_id=input.import_job_id,
                stream=page.stream,
                continue_from=page.cursor_out or page.cursor_in or None,
                high_water=prepared.high_water,
                processed=prepared.mapped,
                rejected=prepared.rejected,
                expected_total=input.expected_total,
                globally=self.deps.settings.sync_enabled,
            )
            result = ApplyResult(
                inserted=counts.inserted,
                updated=counts.updated,
                unchanged=counts.unchanged,
                rejected=prepared.rejected,
                superseded=prepared.superseded,
                sync_enabled=enabled,
                disabled_reason=reason,
            )
            await sync_runs.mark_applied(connection, ref.page_id, dataclasses.asdict(result))
        return result

    async def _analyze(self, stale: set[str]) -> None:
        """ANALYZE tables the pages found stale (if any), once their transaction committed.

        Why here: the plans of the contact lookups need statistics
        (``db.record_writer.stale_statistics`` says why). The check is a statement of each
        page's transaction; the ANALYZE needs a transaction of its own, and opening one while
        the pages' is open would hold two pooled connections per sync, which many syncs at
        once could exhaust. So statistics lag by at most one batch: at most the pages of the
        batch after a table doubled are planned with the statistics of half its size, which
        is harmless. The pages are applied already: a failed ANALYZE is logged, and the next
        batch asks again.
        """
        if not stale:
            return
        tables = sorted(stale)
        try:
            async with self.deps.database.transaction() as connection:
                raw = await connection.get_raw_connection()
                assert raw.driver_connection is not None
                await analyze_statistics(raw.driver_connection, tables)
        except (SQLAlchemyError, psycopg.Error, OSError) as error:
            log.warning("ANALYZE failed; the next batch retries", tables=tables, error=str(error))

    async def _page_to_apply(
        self, connection: AsyncConnection, input: ApplyPageInput, *, with_body: bool
    ) -> tuple[sync_runs.StagedPageRow, sync_runs.CredentialContext]:
        """The staged page, locked, and its credential, once both are checked to be the run's.

        One statement reads the page, the credential and the run's owner; when the page is
        gone, the credential and run are checked first, as the separate reads did.
        """
        loaded = await sync_runs.page_to_apply(
            connection,
            input.page.page_id,
            credential_id=input.credential_id,
            sync_log_id=input.sync_log_id,
            with_body=with_body,
        )
        if loaded is None:
            await sync_runs.credential_context(connection, input.credential_id)
            await _check_run(
                connection,
                input.credential_id,
                input.sync_log_id,
                import_job_id=input.import_job_id,
            )
            raise _missing(input.page)
        if loaded.credential is None:
            raise NotFoundError(f"no credential with id {input.credential_id}")
        _check_owner(
            loaded.owner,
            input.credential_id,
            input.sync_log_id,
            import_job_id=input.import_job_id,
        )
        self._check_page(loaded.page, input)
        return loaded.page, loaded.credential

    @staticmethod
    async def _staged_page(page: sync_runs.StagedPageRow) -> HandedPage:
        """The page from its staged body (another worker fetched it, or this is a retry)."""
        if page.body is None:
            raise _missing_page(page.stream, page.page_id)
        raw = await staged_body.unpack_async(page.body)
        customer_ids = invoice_customer_ids(raw) if page.stream == ExportStream.INVOICES else []
        return HandedPage(raw, customer_ids)

    def _check_page(self, page: sync_runs.StagedPageRow | None, input: ApplyPageInput) -> None:
        if page is None:
            raise _missing(input.page)
        if page.credential_id != input.credential_id or page.sync_log_id != input.sync_log_id:
            raise ApplicationError(
                f"staged page {page.page_id} belongs to another credential or run; "
                "refusing to write it for credential "
                f"{input.credential_id}",
                type=ErrorType.ACCESS_DENIED,
                non_retryable=True,
            )

    @staticmethod
    def _stored_result(stored: dict[str, Any] | None) -> ApplyResult:
        result = ApplyResult(**(stored or {}))
        result.already_applied = True
        return result

    async def _prepare(
        self,
        connection: AsyncConnection | None,
        stream: str,
        page: HandedPage,
        context: RowContext,
        *,
        known_types: Mapping[int, str | None] | None = None,
    ) -> PreparedPage:
        """Map, validate and COPY-encode the page in the mapping process (see mapping_pool).

        Invoices need their customers' types: from ``known_types`` (looked up for a whole
        batch) or looked up on ``connection``.
        """
        types: Mapping[int, str | None] | None = None
        if stream == ExportStream.INVOICES:
            if known_types is not None:  # only this page's customers go to the mapping
                ids = (int(i) for i in page.customer_ids if i.isdigit())
                types = {i: known_types[i] for i in ids if i in known_types}
            else:
                assert connection is not None
                types = await sync_runs.customer_types(
                    connection, context.company_id, context.source_tenant_id, page.customer_ids
                )
        prefix = () if stream == ExportStream.CUSTOMER_CONTACTS else context.values()
        return await self.deps.mapping.prepare(
            stream, page.raw, types, prefix, self.deps.settings.sync_insert_batch_size
        )

    async def _write(
        self, driver: Any, stream: str, context: RowContext, prepared: PreparedPage
    ) -> UpsertCounts:
        if stream == ExportStream.INVOICES:
            return await upsert_batches(driver, INVOICES, prepared.batches)
        if stream == ExportStream.CUSTOMERS:
            return await upsert_batches(driver, MEMBERS, prepared.batches)
        counts, _members_changed = await upsert_contact_batches(
            driver, context.company_id, context.source_tenant_id, prepared.batches, CONTACT_COLUMNS
        )
        return counts

    # --- hand-off and bookkeeping --------------------------------------------------------------

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        """Record the hand-off (once per run) and start the downstream workflow if configured."""
        async with self.deps.database.transaction() as connection:
            await _check_run(
                connection, input.credential_id, input.sync_log_id, company_id=input.company_id
            )
            entry = await outbox.record(
                connection,
                sync_log_id=input.sync_log_id,
                company_id=input.company_id,
                credential_id=input.credential_id,
                records_synced=input.records_synced,
            )
        settings = self.deps.settings
        if entry.status == "dispatched":
            return DispatchResult(True, entry.target_workflow_id, "already dispatched")
        if not settings.downstream_workflow or self.deps.temporal is None:
            return DispatchResult(True, None, "hand-off recorded in the dispatch outbox")
        workflow_id = f"downstream-{input.company_id}-{input.sync_log_id}"
        with contextlib.suppress(WorkflowAlreadyStartedError):  # a retried dispatch
            await self.deps.temporal.start_workflow(
                settings.downstream_workflow,
                {
                    "company_id": input.company_id,
                    "credential_id": input.credential_id,
                    "sync_log_id": input.sync_log_id,
                    "records_synced": input.records_synced,
                },
                id=workflow_id,
                task_queue=settings.downstream_task_queue or settings.temporal_task_queue,
            )
        async with self.deps.database.transaction() as connection:
            await outbox.mark_dispatched(connection, input.sync_log_id, workflow_id)
        return DispatchResult(True, workflow_id, f"started {settings.downstream_workflow}")

    @activity.defn(name=ActivityName.FINISH_RUN)
    async def finish_run(self, input: FinishRunInput) -> None:
        async with self.deps.database.transaction() as connection:
            await _check_run(
                connection,
                input.credential_id,
                input.sync_log_id,
                import_job_id=input.import_job_id,
            )
            closed = await sync_runs.finish_run(
                connection,
                sync_log_id=input.sync_log_id,
                credential_id=input.credential_id,
                import_job_id=input.import_job_id,
                status=input.status,
                records_processed=input.records_processed,
                records_rejected=input.records_rejected,
                details={"streams": [dataclasses.asdict(s) for s in input.streams]},
                error_message=input.error_message,
                credentials_rejected=input.credentials_rejected,
                actor=self.deps.actor,
            )
        if closed:
            log.info(
                "sync run finished",
                credential_id=input.credential_id,
                sync_log_id=input.sync_log_id,
                status=input.status,
                records=input.records_processed,
                rejected=input.records_rejected,
                error=input.error_message,
            )


_LATER_PAGE_ERRORS = (ApplicationError, ServiceTitanError, OSError, SQLAlchemyError)
"""Failures of a batch's later page that end the batch early instead of failing it."""


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


@dataclass(frozen=True)
class _EarlyPage:
    """A page prepared before its turn, with the row context it was prepared for."""

    context: tuple[Any, ...]
    page: HandedPage
    prepared: PreparedPage


def _row_context(credential: sync_runs.CredentialContext, import_job_id: int) -> RowContext:
    """The columns a credential and its run give every row of a page."""
    return RowContext(
        company_id=credential.company_id,
        tenant=credential.intacct_id,
        trade=credential.primary_trade,
        import_job_id=import_job_id,
        source_tenant_id=credential.tenant_id,
    )


async def _mapped_at_fetch(page: HandedPage) -> _EarlyPage:
    """A page whose fetch started its mapping (``SyncActivities._start_mapping``)."""
    assert page.prepared is not None and page.context is not None
    prepared: PreparedPage = await page.prepared
    return _EarlyPage(page.context, page, prepared)


def _discard(tasks: list[asyncio.Task[_EarlyPage] | None]) -> None:
    """Cancel early preparations no page used (and retrieve their failures, if any)."""
    for task in tasks:
        futures.discard(task)


async def _check_run(
    connection: AsyncConnection,
    credential_id: int,
    sync_log_id: int,
    *,
    import_job_id: int | None = None,
    company_id: int | None = None,
) -> sync_runs.RunOwner:
    """Refuse to touch a sync run, import job or company that is not the credential's own.

    Activity inputs come from workflow inputs, which any Temporal client can write (a forged
    ``SyncInput.resume`` names any run): without this, credential B could stage pages into
    company A's run, stamp its rows with A's import job and close A's sync log.
    """
    owner = await sync_runs.run_owner(connection, sync_log_id)
    return _check_owner(
        owner, credential_id, sync_log_id, import_job_id=import_job_id, company_id=company_id
    )


def _check_owner(
    owner: sync_runs.RunOwner | None,
    credential_id: int,
    sync_log_id: int,
    *,
    import_job_id: int | None = None,
    company_id: int | None = None,
) -> sync_runs.RunOwner:
    """``_check_run`` on an owner already read."""
    if (
        owner is None
        or owner.credential_id != credential_id
        or (import_job_id is not None and owner.import_job_id != import_job_id)
        or (company_id is not None and owner.company_id != company_id)
    ):
        raise ApplicationError(
            f"sync run {sync_log_id} (or its import job or company) does not belong to "
            f"credential {credential_id}; refusing to write to it",
            type=ErrorType.ACCESS_DENIED,
            non_retryable=True,
        )
    return owner


def _missing(ref: PageRef) -> ApplicationError:
    return _missing_page(ref.stream, ref.page_id)


def _missing_page(stream: str, page_id: int) -> ApplicationError:
    return ApplicationError(
        f"staged {stream} page {page_id} is gone (PostgreSQL restarted?); it will be fetched again",
        type=ErrorType.STAGED_PAGE_MISSING,
        non_retryable=True,
    )


def _reject_row(reject: Reject) -> tuple[str | None, str, str]:
    raw = json.dumps(reject.raw, ensure_ascii=True, default=str)
    record_id = reject.record_id[:64] if reject.record_id else None
    return record_id, reject.reason, raw
