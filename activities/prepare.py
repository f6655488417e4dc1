"""Preparing pages to write: the one path every page takes, wherever it was fetched.

A page is mapped, validated and COPY-encoded in the mapping process (``mapping_pool``) for a
row context: the columns its credential and run give every row. Invoices also need their
customers' types, looked up once for all the pages prepared together.

The fetch prepares each page as it stages it (with a mapping process), so the page is mapped
while the pages before it are written, and hands it over (``page_handoff``). The apply
prepares the rest: pages another worker fetched (from their staged body) and pages whose row
context changed since their fetch.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import futures
from activities.dependencies import SyncDependencies
from activities.page_handoff import HandedPage
from db.credentials import CredentialContext
from db.members import customer_types
from db.record_writer import RowContext
from servicetitan.pages import ExportStream
from servicetitan.projection import invoice_customer_ids


def row_context(credential: CredentialContext, import_job_id: int) -> RowContext:
    """The columns a credential and its run give every row of a page."""
    return RowContext(
        company_id=credential.company_id,
        tenant=credential.intacct_id,
        trade=credential.primary_trade,
        import_job_id=import_job_id,
        source_tenant_id=credential.tenant_id,
    )


def unprepared(stream: str, raw: bytes) -> HandedPage:
    """A page's bytes, with the ids of the customers whose types its mapping needs."""
    return HandedPage(raw, invoice_customer_ids(raw) if stream == ExportStream.INVOICES else [])


async def prepare_pages(
    deps: SyncDependencies,
    connection: AsyncConnection,
    stream: str,
    pages: Sequence[HandedPage],
    context: RowContext,
) -> list[HandedPage]:
    """The pages (of ``stream``) with their mapping for ``context`` started, in order.

    One customer-type lookup for all of them, in the caller's transaction. A mapping the
    pages carried already (for another context) is dropped.
    """
    types: dict[int, str | None] | None = None
    if stream == ExportStream.INVOICES:
        ids = sorted({i for page in pages for i in page.customer_ids})
        types = await customer_types(connection, context.company_id, context.source_tenant_id, ids)
    prefix = () if stream == ExportStream.CUSTOMER_CONTACTS else context.values()
    prepared: list[HandedPage] = []
    for page in pages:
        futures.discard(page.prepared)
        mapping = deps.mapping.prepare(
            stream,
            page.raw,
            _types_of(page, types),
            prefix,
            deps.settings.sync_insert_batch_size,
        )
        prepared.append(
            dataclasses.replace(
                page, prepared=asyncio.ensure_future(mapping), context=context.values()
            )
        )
    return prepared


def _types_of(
    page: HandedPage, types: Mapping[int, str | None] | None
) -> dict[int, str | None] | None:
    """This page's customers' types only: the rest would only travel to the mapping process."""
    if types is None:
        return None
    ids = (int(i) for i in page.customer_ids if i.isdigit())
    return {i: types[i] for i in ids if i in types}
