"""Lookups of members already stored, for mapping the records that refer to them."""

from __future__ import annotations

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import SOFTWARE

CUSTOMER_TYPES = text(
    "WITH k AS MATERIALIZED (SELECT CAST(:company_id AS smallint) AS company_id, "
    "CAST(:software AS varchar) AS software, CAST(:tenant AS varchar) AS tenant) "
    "SELECT i.id, m.customer_type FROM k CROSS JOIN unnest(:customer_ids) AS i(id) "
    "CROSS JOIN LATERAL (SELECT customer_type FROM members_stream s "
    "WHERE s.company_id = k.company_id AND s.software = k.software "
    "AND s.source_tenant_id = k.tenant AND s.customer_id = i.id LIMIT 1) m"
).bindparams(bindparam("customer_ids", type_=ARRAY(Text)))
"""One probe of the natural-key index per id, whatever the statistics say.

Written as ``customer_id = ANY(:ids)`` or as a correlated subquery per id, the planner may
scan the tenant's members (per page, or per id when statistics are stale). The lateral
``LIMIT 1`` over all four columns of the unique key is planned as an index probe per id, as
long as company, software and tenant are columns of a materialized CTE, not constants: a
company the statistics do not know yet (its members arrived after the last ANALYZE) would be
estimated at one row and walked through its ``source_modified_at`` index for every id."""


async def customer_types(
    connection: AsyncConnection, company_id: int, source_tenant_id: str, customer_ids: list[str]
) -> dict[int, str | None]:
    """ServiceTitan customer type per customer id already in members_stream.

    Invoices carry only the customer's name; knowing the type lets commercial names stay
    whole and residential ones be split.
    """
    if not customer_ids:
        return {}
    rows = await connection.execute(
        CUSTOMER_TYPES,
        {
            # One array parameter, not an IN list of hundreds of placeholders that the
            # server would parse again for every invoice page.
            "customer_ids": customer_ids,
            "company_id": company_id,
            "software": SOFTWARE,
            "tenant": source_tenant_id,
        },
    )
    return {int(customer_id): kind for customer_id, kind in rows if customer_id.isdigit()}


_MEMBERS_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


async def lock_members(connection: AsyncConnection, company_id: int, source_tenant_id: str) -> None:
    """Serialise writers of one tenant's members and contacts until the transaction ends.

    A member's primary phone and email come from its contacts and are filled in by whichever
    of the customers page and the contacts page is written second. The two streams are
    applied at once; without the lock, two concurrent transactions could each miss the
    other's uncommitted rows and neither fill them in.
    """
    await connection.execute(
        _MEMBERS_LOCK, {"key": f"members:{company_id}:{SOFTWARE}:{source_tenant_id}"}
    )
