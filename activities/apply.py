"""``map_and_insert_pages``: write a batch of staged pages, in order, in one transaction.

For each page, its rows, its rejects, the stream's cursor, the run's progress and the page's
"applied" mark commit together, so the database never holds half a page; and the pages of a
batch commit together, so a failure rolls the batch back and its retry applies it again from
the staged bodies (nothing is fetched again). A retried apply of an applied page returns the
result stored with it and changes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity

from activities import futures, staged_body
from activities.dependencies import SyncDependencies
from activities.heartbeat import heartbeating
from activities.ownership import check_owner, check_page, check_run
from activities.page_handoff import HandedPage, handoff_key
from activities.prepare import prepare_pages, row_context, unprepared
from contracts.sync import (
    ActivityName,
    ApplyPagesInput,
    ApplyPagesResult,
    ApplyResult,
    PageRef,
)
from core import metrics
from core.logging import get_logger
from db.credentials import CredentialContext, NotFoundError, credential_context
from db.members import lock_members
from db.progress import record_page_progress
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
from db.rejects import store_rejects
from db.staging import StagedPageRow, mark_applied, page_to_apply
from db.warnings import store_warnings
from records.contact import CONTACT_COLUMNS
from records.invoice import INVOICE_COLUMNS
from records.member import MEMBER_COLUMNS
from records.pipeline import Reject
from records.prepared import PreparedPage
from servicetitan.pages import ExportStream

log = get_logger(__name__)

INVOICES = invoice_table(INVOICE_COLUMNS)
MEMBERS = member_table(MEMBER_COLUMNS)


@dataclass
class _Page:
    """A page of the batch, locked: its reference, its staged row, its mapping."""

    ref: PageRef
    staged: StagedPageRow
    prepared: asyncio.Future[PreparedPage] | None
    """None when the page is applied already."""


@dataclass
class _Batch:
    """The batch's pages up to the first whose staged body is gone (then ``missing``)."""

    pages: list[_Page]
    context: RowContext | None
    """The row context of every page (None when no page was found)."""
    missing: bool


class ApplyActivities:
    def __init__(self, deps: SyncDependencies) -> None:
        self.deps = deps

    @activity.defn(name=ActivityName.MAP_AND_INSERT_PAGES)
    async def map_and_insert_pages(self, input: ApplyPagesInput) -> ApplyPagesResult:
        """Apply staged pages in order, all in one transaction.

        Stops after a page that finds the sync disabled (a page boundary), and before a page
        whose staged body is gone, so the workflow fetches it again from its ``cursor_in``;
        the pages before either commit.
        """
        handed = [self.deps.handoff.take(handoff_key(ref)) for ref in input.pages]
        results: list[ApplyResult] = []
        stopped = False
        stale: set[str] = set()
        batch: _Batch | None = None
        first = input.pages[0]
        # One heartbeat loop for the whole batch (see fetch_pages).
        async with heartbeating(stream=first.stream, cursor=first.cursor_in, phase="batch") as beat:
            try:
                async with self.deps.database.transaction() as connection:
                    batch = await self._load(connection, input, handed)
                    if batch.context is not None:
                        await self._prepare_following(connection, input, batch.context)
                    if batch.context is not None and first.stream != "invoices":
                        context = batch.context
                        await lock_members(connection, context.company_id, context.source_tenant_id)
                    for page in batch.pages:
                        beat.update(cursor=page.ref.cursor_in, page_id=page.ref.page_id)
                        result = await self._apply(connection, input, batch, page, stale)
                        results.append(result)
                        beat.update(pages=len(results))
                        if not result.sync_enabled:
                            stopped = True
                            break
            finally:
                _discard(handed, batch)
        await self._analyze(stale)
        assert batch is not None
        streams = (page.staged.stream for page in batch.pages)
        metrics.current().pages_applied(input.credential_id, zip(streams, results, strict=False))
        return ApplyPagesResult(
            results, missing=batch.missing and not stopped, worker_queue=self.deps.worker_queue
        )

    async def _prepare_following(
        self, connection: AsyncConnection, input: ApplyPagesInput, context: RowContext
    ) -> None:
        """Start mapping the stream's next staged pages this worker holds unmapped.

        Pages fetched before their mapping could start (invoices, while the customers were
        written) would otherwise be mapped only when their own apply begins; started now, they
        are mapped while this batch is written. They stay in the hand-off for that apply.
        """
        if not input.following or self.deps.mapping.processes == 0:
            return
        held = [(ref, self.deps.handoff.take(handoff_key(ref))) for ref in input.following]
        waiting = [(ref, page) for ref, page in held if page is not None]
        unmapped = [(ref, page) for ref, page in waiting if page.context != context.values()]
        if unmapped:
            prepared = await prepare_pages(
                self.deps, connection, input.following[0].stream, [p for _, p in unmapped], context
            )
            mapped = {id(page): again for (_, page), again in zip(unmapped, prepared, strict=True)}
            waiting = [(ref, mapped.get(id(page), page)) for ref, page in waiting]
        for ref, page in waiting:
            self.deps.handoff.put(handoff_key(ref), page)

    async def _load(
        self, connection: AsyncConnection, input: ApplyPagesInput, handed: list[HandedPage | None]
    ) -> _Batch:
        """Lock and read the batch's pages, in order, and start mapping those not mapped yet.

        A page handed over by its fetch is used as it was mapped if its row context is still
        current; others are mapped now, all at once (one customer-type lookup), from the bytes
        handed over or from their staged body. Every page is checked to be the run's.
        """
        pages: list[_Page] = []
        to_prepare: list[tuple[_Page, HandedPage]] = []
        context: RowContext | None = None
        missing = False
        for ref, page in zip(input.pages, handed, strict=True):
            loaded = await _checked_page(connection, input, ref, with_body=page is None)
            if loaded is None:
                missing = True
                break
            staged, credential = loaded
            context = row_context(credential, input.import_job_id)
            if staged.applied:
                pages.append(_Page(ref, staged, None))
                continue
            if page is None:
                if staged.body is None:
                    missing = True
                    break
                page = unprepared(staged.stream, await staged_body.unpack_async(staged.body))
            entry = _Page(ref, staged, page.prepared)
            pages.append(entry)
            if page.prepared is None or page.context != context.values():
                to_prepare.append((entry, page))
        if to_prepare:
            assert context is not None
            prepared = await prepare_pages(
                self.deps,
                connection,
                to_prepare[0][0].staged.stream,
                [page for _, page in to_prepare],
                context,
            )
            for (entry, _), page in zip(to_prepare, prepared, strict=True):
                entry.prepared = page.prepared
        return _Batch(pages, context, missing)

    async def _apply(
        self,
        connection: AsyncConnection,
        input: ApplyPagesInput,
        batch: _Batch,
        page: _Page,
        stale: set[str],
    ) -> ApplyResult:
        """Write one page in the batch's transaction: rows, rejects, bookkeeping, mark.

        Tables whose statistics the page found stale are added to ``stale``, for ANALYZE
        after the commit (``_analyze``).
        """
        if page.prepared is None:
            stored = ApplyResult(**(page.staged.result or {}))
            return dataclasses.replace(stored, already_applied=True)
        assert batch.context is not None
        context, stream = batch.context, page.staged.stream
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if stream != ExportStream.INVOICES:  # their writes look contacts up
            stale.update(await stale_statistics(driver))
        prepared = await page.prepared
        counts = await self._write(driver, stream, context, prepared)
        await store_rejects(
            connection,
            credential_id=input.credential_id,
            company_id=context.company_id,
            sync_log_id=input.sync_log_id,
            stream=stream,
            rejects=[_reject_row(reject) for reject in prepared.rejects],
        )
        await store_warnings(
            connection,
            credential_id=input.credential_id,
            company_id=context.company_id,
            sync_log_id=input.sync_log_id,
            stream=stream,
            warnings=prepared.warnings,
        )
        enabled, reason = await record_page_progress(
            connection,
            credential_id=input.credential_id,
            sync_log_id=input.sync_log_id,
            import_job_id=input.import_job_id,
            stream=stream,
            continue_from=page.ref.cursor_out or page.ref.cursor_in or None,
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
        await mark_applied(connection, page.staged.page_id, dataclasses.asdict(result))
        return result

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

    async def _analyze(self, stale: set[str]) -> None:
        """ANALYZE the tables the pages found stale (if any), once their transaction committed.

        The plans of the contact lookups need statistics (``stale_statistics`` says why).
        The ANALYZE needs a transaction of its own, and opening one while the batch's is open
        would hold two pooled connections per sync, which many syncs at once could exhaust;
        so statistics lag by at most one batch, which is harmless. The pages are applied
        already: a failed ANALYZE is logged, and the next batch asks again.
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


async def _checked_page(
    connection: AsyncConnection, input: ApplyPagesInput, ref: PageRef, *, with_body: bool
) -> tuple[StagedPageRow, CredentialContext] | None:
    """The staged page, locked, and its credential, once both are the run's; None if gone.

    A page that is gone is no reason to refuse the call: its credential and run are checked
    as usual first, so a forged call is refused whether or not the page exists.
    """
    loaded = await page_to_apply(
        connection,
        ref.page_id,
        credential_id=input.credential_id,
        sync_log_id=input.sync_log_id,
        with_body=with_body,
    )
    if loaded is None:
        await credential_context(connection, input.credential_id)
        await check_run(
            connection, input.credential_id, input.sync_log_id, import_job_id=input.import_job_id
        )
        return None
    if loaded.credential is None:
        raise NotFoundError(f"no credential with id {input.credential_id}")
    check_owner(
        loaded.owner, input.credential_id, input.sync_log_id, import_job_id=input.import_job_id
    )
    check_page(loaded.page, input.credential_id, input.sync_log_id)
    if loaded.page.stream != ref.stream or (loaded.page.cursor_in or None) != ref.cursor_in:
        # The id names another page now (a crash restart of PostgreSQL emptied the staging
        # table and restarted its ids): the page referred to is gone.
        return None
    return loaded.page, loaded.credential


def _discard(handed: list[HandedPage | None], batch: _Batch | None) -> None:
    """Drop mappings no page used (pages after a stop, or a batch that failed)."""
    for page in handed:
        if page is not None:
            page.discard()
    for entry in batch.pages if batch is not None else ():
        futures.discard(entry.prepared)


def _reject_row(reject: Reject) -> tuple[str | None, str, str]:
    raw = json.dumps(reject.raw, ensure_ascii=True, default=str)
    record_id = reject.record_id[:64] if reject.record_id else None
    return record_id, reject.reason, raw
