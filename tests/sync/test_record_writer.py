"""The upsert path against real PostgreSQL: counts, idempotence, ordering, primary contacts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
import pytest

from db import members
from db.database import Database
from db.record_writer import (
    PREVIOUS_CUSTOMERS_SQL,
    RowContext,
    TableSpec,
    UpsertCounts,
    invoice_table,
    member_table,
    upsert_batches,
    upsert_contact_batches,
)
from records.contact import CONTACT_COLUMNS, primary_contacts_by_customer
from records.copy_text import encode_rows
from records.invoice import INVOICE_COLUMNS
from records.member import MEMBER_COLUMNS
from records.pipeline import map_contacts, map_customers, map_invoices

INVOICES = invoice_table(INVOICE_COLUMNS)
MEMBERS = member_table(MEMBER_COLUMNS)


async def upsert_records(
    connection: psycopg.AsyncConnection[Any],
    spec: TableSpec,
    context: RowContext,
    rows: Sequence[tuple[Any, ...]],
    *,
    batch_size: int = 2000,
) -> UpsertCounts:
    """Upsert mapped rows (``spec.record_columns`` order) as the sync does: COPY text batches."""
    batches = encode_rows(rows, prefix=context.values(), batch_size=batch_size)
    return await upsert_batches(connection, spec, batches)


async def upsert_contacts(
    connection: psycopg.AsyncConnection[Any],
    company_id: int,
    source_tenant_id: str,
    rows: Sequence[tuple[Any, ...]],
    columns: Sequence[str],
) -> tuple[UpsertCounts, int]:
    """Upsert mapped contacts (``columns`` order) as the sync does, in one COPY batch."""
    batches = encode_rows(rows, batch_size=max(len(rows), 1))
    return await upsert_contact_batches(connection, company_id, source_tenant_id, batches, columns)


def invoice(
    id: int, total: str = "10.00", modified: str = "2025-01-01T00:00:00.1234567Z"
) -> dict[str, Any]:
    return {
        "id": id,
        "referenceNumber": f"R{id}",
        "invoiceDate": "2025-01-01T00:00:00Z",
        "total": total,
        "balance": "0.00",
        "customer": {"id": 500 + id, "name": "Smith, John"},
        "createdOn": "2024-12-31T10:00:00Z",
        "modifiedOn": modified,
        "active": True,
    }


def customer(
    id: int, name: str = "Jane Doe", modified: str = "2025-01-01T00:00:00Z"
) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "type": "Residential",
        "active": True,
        "balance": 12.5,
        "doNotMail": False,
        "doNotService": False,
        "address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
        "createdOn": "2024-01-01T00:00:00Z",
        "modifiedOn": modified,
    }


def contact(
    id: int, customer_id: int, type: str, value: str, active: bool = True
) -> dict[str, Any]:
    return {
        "id": id,
        "customerId": customer_id,
        "type": type,
        "value": value,
        "active": active,
        "modifiedOn": "2025-01-01T00:00:00Z",
    }


@pytest.fixture
async def conn(
    database: Database, database_url: str
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as setup:
        setup.execute(
            "INSERT INTO companies (id, name, intacct_id, primary_trade) "
            "VALUES (1, 'Acme', 'ACME', 'Plumbing')"
        )
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        yield connection


CONTEXT = RowContext(
    company_id=1, tenant="ACME", trade="Plumbing", import_job_id=None, source_tenant_id="1001"
)


async def apply_invoices(
    conn: psycopg.AsyncConnection[Any], raws: list[dict[str, Any]], batch: int = 2000
):
    page = map_invoices(raws)
    assert page.rejects == []
    counts = await upsert_records(
        conn, INVOICES, CONTEXT, [r.as_tuple() for r in page.rows], batch_size=batch
    )
    await conn.commit()
    return counts


async def test_insert_then_reapply_is_unchanged_then_update_counts(conn) -> None:
    first = await apply_invoices(conn, [invoice(i) for i in range(1, 6)], batch=2)
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)

    again = await apply_invoices(conn, [invoice(i) for i in range(1, 6)], batch=2)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)

    changed = await apply_invoices(
        conn, [invoice(3, total="99.95", modified="2025-02-01T00:00:00Z"), invoice(6)]
    )
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 1, 0)

    rows = await (
        await conn.execute(
            "SELECT invoice_number, total, tenant, trade, software, customer_first_name, "
            "customer_last_name FROM invoices_stream ORDER BY invoice_number::int"
        )
    ).fetchall()
    assert len(rows) == 6
    assert str(rows[2][1]) == "99.95"
    assert rows[0][2:] == ("ACME", "Plumbing", "ServiceTitan", "John", "Smith")


async def test_an_older_version_never_overwrites_a_newer_one(conn) -> None:
    await apply_invoices(conn, [invoice(1, total="20.00", modified="2025-03-01T00:00:00Z")])
    stale = await apply_invoices(conn, [invoice(1, total="10.00", modified="2025-01-01T00:00:00Z")])
    assert (stale.updated, stale.unchanged) == (0, 1)
    total = await (await conn.execute("SELECT total FROM invoices_stream")).fetchone()
    assert str(total[0]) == "20.00"


async def _members(conn) -> dict[str, tuple[str | None, str | None]]:
    rows = await (
        await conn.execute(
            "SELECT customer_id, customer_phone_number_primary, customer_email FROM members_stream"
        )
    ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


async def _apply_contacts(conn, raws):
    page = map_contacts(raws)
    assert page.rejects == []
    counts, changed = await upsert_contacts(
        conn, 1, "1001", [r.as_tuple() for r in page.rows], CONTACT_COLUMNS
    )
    await conn.commit()
    return counts, changed


async def _apply_customers(conn, raws):
    page = map_customers(raws)
    counts = await upsert_records(conn, MEMBERS, CONTEXT, [r.as_tuple() for r in page.rows])
    await conn.commit()
    return counts


CONTACTS = [
    contact(10, 1, "Phone", "555-0010", active=False),  # lowest id but inactive
    contact(11, 1, "Fax", "555-0011"),  # fax never counts
    contact(13, 1, "MobilePhone", "555-0013"),
    contact(12, 1, "Email", "b@example.com"),
    contact(14, 1, "Phone", "555-0014"),
    contact(15, 1, "Email", "a@example.com"),
    contact(20, 2, "Email", "   "),  # blank values are skipped
]


@pytest.mark.parametrize("contacts_first", [True, False])
async def test_primary_contacts_whichever_arrives_first(conn, contacts_first: bool) -> None:
    if contacts_first:
        await _apply_contacts(conn, CONTACTS)
        await _apply_customers(conn, [customer(1), customer(2), customer(3)])
    else:
        await _apply_customers(conn, [customer(1), customer(2), customer(3)])
        _counts, changed = await _apply_contacts(conn, CONTACTS)
        assert changed == 1  # only customer 1 gets a phone/email
    expected = primary_contacts_by_customer(map_contact_all(CONTACTS))
    members = await _members(conn)
    assert members["1"] == ("555-0013", "b@example.com") == tuple(expected["1"])
    assert members["2"] == (None, None) == tuple(expected["2"])
    assert members["3"] == (None, None)


def map_contact_all(raws):
    return map_contacts(raws).rows


async def test_contact_changes_alone_update_the_member_including_a_moved_contact(conn) -> None:
    await _apply_customers(conn, [customer(1), customer(2)])
    await _apply_contacts(conn, CONTACTS)
    # The mobile phone is deactivated: the next active phone (14) takes over.
    _c, changed = await _apply_contacts(
        conn, [contact(13, 1, "MobilePhone", "555-0013", active=False)]
    )
    assert changed == 1
    assert (await _members(conn))["1"][0] == "555-0014"
    # Contact 14 moves to customer 2: customer 1 loses its last phone, customer 2 gains it.
    _c, changed = await _apply_contacts(conn, [contact(14, 2, "Phone", "555-0014")])
    assert changed == 2
    members = await _members(conn)
    assert members["1"][0] is None
    assert members["2"][0] == "555-0014"
    # A customer update does not lose the phone computed from contacts.
    await _apply_customers(conn, [customer(2, name="Janet Doe", modified="2025-06-01T00:00:00Z")])
    assert (await _members(conn))["2"][0] == "555-0014"


async def _insert_contacts(conn, tenant: str, first: int, last: int) -> None:
    """Contacts ``first``..``last`` of ``tenant`` (company 1), two per customer."""
    await conn.execute(
        "INSERT INTO servicetitan_customer_contacts (company_id, source_tenant_id, contact_id, "
        "customer_id, type, value, active) SELECT 1, %s, g, (g / 2)::text, 'Phone', "
        "'555-' || g, true FROM generate_series(%s::int, %s::int) g",
        (tenant, first, last),
    )


async def _stage_contacts(conn, tenant: str, last: int) -> None:
    """The tenant's contacts up to ``last`` in a stage table, as a page's COPY leaves them
    (the stage table's size is all the planner knows of it)."""
    await conn.execute(
        "CREATE TEMP TABLE stage_contacts AS SELECT contact_id, customer_id, type, value, "
        "active, source_modified_at FROM servicetitan_customer_contacts WITH NO DATA"
    )
    await conn.execute(
        "INSERT INTO stage_contacts SELECT contact_id, customer_id, type, value, active, "
        "source_modified_at FROM servicetitan_customer_contacts "
        "WHERE source_tenant_id = %s AND contact_id <= %s",
        (tenant, last),
    )


async def _plan(conn, sql: str, params: dict[str, Any]) -> str:
    cursor = await conn.execute("EXPLAIN " + sql, params)
    return "\n".join(row[0] for row in await cursor.fetchall())


async def test_previous_customer_lookup_probes_the_key_instead_of_scanning_the_tenant(
    conn,
) -> None:
    """The lookup behind a moved contact stays one index probe per staged contact.

    Statistics far behind the table and a stage table the planner knows nothing about: the
    shape in which a plain join hashed the tenant's whole contact table on every page.
    """
    await _insert_contacts(conn, "1001", 1, 2000)
    await conn.execute("ANALYZE servicetitan_customer_contacts")
    await _insert_contacts(conn, "1001", 2001, 40000)  # statistics now far behind, as mid-sync
    await _stage_contacts(conn, "1001", 5000)  # a few pages' worth
    plan = await _plan(conn, PREVIOUS_CUSTOMERS_SQL, {"company": 1, "tenant": "1001"})
    assert "Seq Scan on servicetitan_customer_contacts" not in plan, plan
    assert "Index" in plan, plan


async def test_previous_customer_lookup_probes_the_key_for_a_tenant_the_statistics_miss(
    conn,
) -> None:
    """A tenant's first sync into a database that holds other tenants stays linear.

    The statistics know only the other tenant, so they put this one at a row or so; the
    lookup must still probe the primary key by contact id, not walk the tenant's customer
    index filtering on the contact id (one pass over the tenant's contacts per staged contact,
    which grew each page of a second tenant's contacts to over a second).
    """
    await _insert_contacts(conn, "1001", 1, 40000)
    await conn.execute("ANALYZE servicetitan_customer_contacts")
    await _insert_contacts(conn, "2002", 1, 8000)  # a new tenant, after the last ANALYZE
    await _stage_contacts(conn, "2002", 1000)
    plan = await _plan(conn, PREVIOUS_CUSTOMERS_SQL, {"company": 1, "tenant": "2002"})
    assert "pk_servicetitan_customer_contacts" in plan, plan
    assert "ix_customer_contacts_customer" not in plan, plan


async def test_customer_type_lookup_probes_the_key_for_a_company_the_statistics_miss(
    conn,
) -> None:
    """Invoice pages of a company whose members arrived after the last ANALYZE look their
    customers' types up by the natural key, not by walking the company's members per id."""
    await conn.execute(
        "INSERT INTO companies (id, name, intacct_id, primary_trade) "
        "VALUES (2, 'Beta', 'BETA', 'HVAC')"
    )
    insert = (
        "INSERT INTO members_stream (company_id, tenant, trade, source_tenant_id, customer_id, "
        "customer_type, source_modified_at) SELECT %s, 'T', 'HVAC', %s, g::text, 'Residential', "
        "now() FROM generate_series(1, %s::int) g"
    )
    await conn.execute(insert, (1, "1001", 40000))
    await conn.execute("ANALYZE members_stream")
    await conn.execute(insert, (2, "2002", 8000))  # a new company, after the last ANALYZE
    lookup = re.sub(r"(?<!:):(\w+)", r"%(\1)s", members.CUSTOMER_TYPES.text).replace(
        "%(customer_ids)s",
        "%(customer_ids)s::text[]",  # SQLAlchemy's bind type, here
    )
    plan = await _plan(
        conn,
        lookup,
        {
            "customer_ids": [str(i) for i in range(1, 1001)],
            "company_id": 2,
            "software": "ServiceTitan",
            "tenant": "2002",
        },
    )
    assert "uq_members_stream" in plan, plan
    assert "ix_members_stream_company_id_source_modified_at" not in plan, plan
