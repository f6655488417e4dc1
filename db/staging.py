"""Staged pages: each fetched export page, stored until its rows are applied.

The fetch stores a page's raw (compressed) response here before anything is written from it,
and the apply reads it back, so a page's position in the feed is never lost between the two:
a crash re-applies a staged page instead of fetching it again. Applying a page drops its body
and keeps what applying it did (``mark_applied``), so a retried apply finds it applied.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, join, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from db.credentials import CredentialContext, credential_context_columns
from db.runs import RunOwner
from db.schema import Company, ServiceTitanCredential, ServiceTitanSyncLog, StagedPage


@dataclass(frozen=True)
class StagedPageRow:
    page_id: int
    credential_id: int
    sync_log_id: int
    stream: str
    cursor_in: str
    cursor_out: str | None
    has_more: bool
    record_count: int
    body: bytes | None
    applied: bool
    result: dict[str, Any] | None


async def stage_page(
    connection: AsyncConnection,
    *,
    credential_id: int,
    sync_log_id: int,
    stream: str,
    cursor_in: str | None,
    cursor_out: str | None,
    has_more: bool,
    record_count: int,
    body: bytes,
) -> int:
    """Store a fetched page; a retried fetch of the same position replaces it (unless applied)."""
    upsert = _stage_page_statement()
    parameters = {
        "p_credential_id": credential_id,
        "p_sync_log_id": sync_log_id,
        "p_stream": stream,
        "p_cursor_in": cursor_in or "",
        "p_cursor_out": cursor_out,
        "p_has_more": has_more,
        "p_record_count": record_count,
        "p_body": body,
    }
    page_id = await connection.scalar(upsert, parameters)
    if page_id is None:  # already applied: keep the applied copy
        page_id = await connection.scalar(
            select(StagedPage.id).where(
                StagedPage.sync_log_id == sync_log_id,
                StagedPage.stream == stream,
                StagedPage.cursor_in == (cursor_in or ""),
            )
        )
    assert page_id is not None
    return int(page_id)


async def staged_before(
    connection: AsyncConnection, *, sync_log_id: int, stream: str, cursor_in: str | None
) -> bool:
    """True when this run staged a page at this position already (fetching it is a refetch)."""
    p = StagedPage
    found = await connection.scalar(
        select(
            exists().where(
                p.sync_log_id == sync_log_id, p.stream == stream, p.cursor_in == (cursor_in or "")
            )
        )
    )
    return bool(found)


@functools.cache
def _stage_page_statement() -> Any:
    """``stage_page``'s upsert, built once (values are ``p_…`` bound parameters): building it
    per page cost the worker's event loop more than running it."""
    statement = pg_insert(StagedPage).values(
        credential_id=bindparam("p_credential_id"),
        sync_log_id=bindparam("p_sync_log_id"),
        stream=bindparam("p_stream"),
        cursor_in=bindparam("p_cursor_in"),
        cursor_out=bindparam("p_cursor_out"),
        has_more=bindparam("p_has_more"),
        record_count=bindparam("p_record_count"),
        body=bindparam("p_body"),
    )
    return statement.on_conflict_do_update(
        constraint="uq_servicetitan_staged_pages_sync_log_id_stream_cursor_in",
        set_={
            "cursor_out": statement.excluded.cursor_out,
            "has_more": statement.excluded.has_more,
            "record_count": statement.excluded.record_count,
            "body": statement.excluded.body,
            "fetched_at": func.now(),
        },
        where=StagedPage.applied_at.is_(None),
    ).returning(StagedPage.id)


def _staged_page_columns(*, with_body: bool) -> tuple[Any, ...]:
    """The columns of a ``StagedPageRow``, in its order (the body as NULL when not wanted)."""
    p = StagedPage
    return (
        p.id,
        p.credential_id,
        p.sync_log_id,
        p.stream,
        p.cursor_in,
        p.cursor_out,
        p.has_more,
        p.record_count,
        p.body if with_body else null(),
        p.applied_at.is_not(None),
        p.result,
    )


async def staged_chain(
    connection: AsyncConnection,
    *,
    credential_id: int,
    sync_log_id: int,
    stream: str,
    cursor_in: str | None,
    limit: int,
) -> list[StagedPageRow]:
    """Unapplied staged pages that continue from ``cursor_in``, in order (bodies not read).

    What an earlier attempt of a fetch already staged, so a retried attempt after a crash
    fetches only the pages that were in flight, not the ones it had already stored.
    """
    p = StagedPage
    rows = (
        await connection.execute(
            select(*_staged_page_columns(with_body=False)).where(
                p.credential_id == credential_id,
                p.sync_log_id == sync_log_id,
                p.stream == stream,
                p.applied_at.is_(None),
                p.body.is_not(None),
            )
        )
    ).all()
    by_cursor = {row.cursor_in: StagedPageRow(*row) for row in rows}
    chain: list[StagedPageRow] = []
    cursor = cursor_in or ""
    while len(chain) < limit and cursor in by_cursor:
        page = by_cursor.pop(cursor)
        chain.append(page)
        if not page.has_more or not page.cursor_out or page.cursor_out == cursor:
            break
        cursor = page.cursor_out
    return chain


@dataclass(frozen=True)
class PageToApply:
    """What applying a page reads first: the page, its credential, its run's owner."""

    page: StagedPageRow
    credential: CredentialContext | None
    """None when the credential no longer exists."""
    owner: RunOwner | None
    """None when the sync run no longer exists."""


async def page_to_apply(
    connection: AsyncConnection,
    page_id: int,
    *,
    credential_id: int,
    sync_log_id: int,
    with_body: bool,
) -> PageToApply | None:
    """The staged page, locked until the transaction ends, with its credential and run owner.

    One statement, as every applied page needs all three. None when the page is gone; a
    missing credential or run is None in the answer (the caller decides what that means).
    ``with_body=False`` leaves the (large) body unread.
    """
    parameters = {
        "p_page_id": page_id,
        "p_credential_id": credential_id,
        "p_sync_log_id": sync_log_id,
    }
    row = (
        await connection.execute(_page_to_apply_query(with_body=with_body), parameters)
    ).one_or_none()
    if row is None:
        return None
    page_end = len(StagedPageRow.__dataclass_fields__)
    context_end = page_end + len(CredentialContext.__dataclass_fields__)
    page, context, run = row[:page_end], row[page_end:context_end], row[context_end:]
    return PageToApply(
        page=StagedPageRow(*page),
        credential=CredentialContext(*context) if context[0] is not None else None,
        owner=RunOwner(*run) if run[0] is not None else None,
    )


@functools.cache
def _page_to_apply_query(*, with_body: bool) -> Any:
    """``page_to_apply``'s statement, built once (``p_…`` bound parameters)."""
    p = StagedPage
    c = ServiceTitanCredential
    log = ServiceTitanSyncLog
    owner = aliased(ServiceTitanCredential)
    return (
        select(
            *_staged_page_columns(with_body=with_body),
            *credential_context_columns(),
            log.credential_id,
            owner.company_id,
            log.import_job_id,
        )
        .select_from(p)
        .outerjoin(
            join(c, Company, Company.id == c.company_id), c.id == bindparam("p_credential_id")
        )
        .outerjoin(
            join(log, owner, owner.id == log.credential_id), log.id == bindparam("p_sync_log_id")
        )
        .where(p.id == bindparam("p_page_id"))
        .with_for_update(of=p)
    )


async def mark_applied(connection: AsyncConnection, page_id: int, result: dict[str, Any]) -> None:
    """The page's rows are in: drop its body, remember what applying it did."""
    await connection.execute(
        update(StagedPage)
        .where(StagedPage.id == page_id)
        .values(applied_at=func.now(), body=None, result=result)
    )
