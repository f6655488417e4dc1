"""The dispatch outbox, for its downstream consumer: list the hand-offs, acknowledge them.

A row means "run ``sync_log_id`` of this credential synced ``records_synced`` records; process
the company's data". Rows are written at least once per run that synced records (the unique
``sync_log_id`` makes a retried hand-off the same row) and stay outstanding until the consumer
acknowledges them. Listing needs ``READ`` on the row's company; acknowledging needs
``MANAGE`` and is audited (``outbox.acknowledged``). Acknowledging is idempotent, and
all-or-nothing: an id that does not exist (or is another company's) acknowledges nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from db import audit, dispatch
from db.dispatch import OutboxFilter, OutboxRow
from services.access import Action, company_filter, require, visible
from services.context import ServiceContext
from services.credentials import visible_credential
from services.errors import Invalid, NotFound
from services.identity import Principal
from services.pages import Page, check_page

OutboxStatus = Literal["pending", "acknowledged", "all"]
STATUSES: tuple[OutboxStatus, ...] = ("pending", "acknowledged", "all")
MAX_IDS = 10_000


async def list_outbox(
    ctx: ServiceContext,
    principal: Principal,
    *,
    company_id: int | None = None,
    credential_id: int | None = None,
    status: str = "pending",
    page: int = 1,
    page_size: int = 50,
) -> Page[OutboxRow]:
    """The hand-offs of the caller's companies, oldest first; ``pending``: not acknowledged."""
    offset = check_page(page, page_size)
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)} (got {status!r})", "status")
    if company_id is not None:
        require(principal, Action.READ, company_id, missing=f"no company with id {company_id}")
    if credential_id is not None:
        await visible_credential(ctx, principal, credential_id, Action.READ)
    chosen = OutboxFilter(
        company_ids=company_filter(principal),
        company_id=company_id,
        credential_id=credential_id,
        acknowledged=None if status == "all" else status == "acknowledged",
    )
    async with ctx.database.transaction() as connection:
        items, total = await dispatch.outbox_page(
            connection, chosen, offset=offset, limit=page_size
        )
    return Page(items, total, page, page_size)


@dataclass(frozen=True)
class Acknowledged:
    acknowledged: list[int]  # ids this call acknowledged
    already: list[int]  # ids acknowledged before (nothing changed)


async def acknowledge(
    ctx: ServiceContext,
    principal: Principal,
    ids: Sequence[int] = (),
    *,
    through: int | None = None,
    company_id: int | None = None,
) -> Acknowledged:
    """Acknowledge rows by id, and/or every outstanding row up to ``through`` (in the caller's
    companies, or ``company_id``'s). One transaction: all of them or, on a refusal, none."""
    if not ids and through is None:
        raise Invalid("give the ids to acknowledge, or through", "ids")
    if len(ids) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} ids at once (use through)", "ids")
    if company_id is not None:
        require(principal, Action.MANAGE, company_id, missing=f"no company with id {company_id}")
    async with ctx.database.transaction() as connection:
        wanted = set(ids)
        if through is not None:
            scope = OutboxFilter(company_ids=company_filter(principal), company_id=company_id)
            wanted.update(await dispatch.outstanding_through(connection, through, scope))
        rows = await dispatch.outbox_rows(connection, wanted)
        found = {row.id: row for row in rows}
        for row_id in sorted(wanted):
            row = found.get(row_id)
            if row is None or not visible(principal, row.company_id):
                raise NotFound(f"no outbox row with id {row_id}")
            if company_id is not None and row.company_id != company_id:
                raise NotFound(f"no outbox row with id {row_id} in company {company_id}")
            require(principal, Action.MANAGE, row.company_id, missing=f"no outbox row {row_id}")
        changed = await dispatch.acknowledge(connection, sorted(wanted), actor=principal.actor)
        for company in sorted({found[i].company_id for i in changed}):
            mine = [i for i in changed if found[i].company_id == company]
            await audit.record(
                connection,
                "outbox.acknowledged",
                actor=principal.actor,
                company_id=company,
                details={
                    "outbox_ids": mine,
                    "sync_log_ids": [found[i].sync_log_id for i in mine],
                },
            )
    return Acknowledged(changed, sorted(wanted - set(changed)))
