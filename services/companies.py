"""Companies: add and list them, and the company-wide kill switch.

Adding a company is the admin's; a company role sees its own companies only, and a company
admin may switch its own company's syncs off and on.
"""

from __future__ import annotations

from db import credentials
from db.credentials import CompanyInfo
from services import switches
from services.access import Action, require, require_admin, visible
from services.context import ServiceContext
from services.errors import NotFound, translated
from services.identity import Principal
from services.switches import SwitchResult


def missing(company_id: int) -> str:
    return f"no company with id {company_id}"


async def add_company(
    ctx: ServiceContext, principal: Principal, *, name: str, intacct_id: str, primary_trade: str
) -> CompanyInfo:
    require_admin(principal, "add companies")
    with translated():
        async with ctx.database.transaction() as connection:
            company_id = await credentials.add_company(
                connection,
                name=name,
                intacct_id=intacct_id,
                primary_trade=primary_trade,
                actor=principal.actor,
            )
            return await credentials.get_company(connection, company_id)


async def list_companies(ctx: ServiceContext, principal: Principal) -> list[CompanyInfo]:
    async with ctx.database.transaction() as connection:
        rows = await credentials.list_companies(connection)
    return [row for row in rows if visible(principal, row.id)]


async def get_company(ctx: ServiceContext, principal: Principal, company_id: int) -> CompanyInfo:
    require(principal, Action.READ, company_id, missing=missing(company_id))
    async with ctx.database.transaction() as connection:
        try:
            return await credentials.get_company(connection, company_id)
        except credentials.NotFoundError:
            raise NotFound(missing(company_id)) from None


async def set_enabled(
    ctx: ServiceContext,
    principal: Principal,
    company_id: int,
    *,
    enabled: bool,
    reason: str | None = None,
) -> SwitchResult:
    """Kill switch for every credential of the company (see ``services.switches``)."""
    await get_company(ctx, principal, company_id)
    require(principal, Action.MANAGE, company_id, missing=missing(company_id))
    return await switches.apply_switch(
        ctx, principal, company_id=company_id, enabled=enabled, reason=reason
    )
