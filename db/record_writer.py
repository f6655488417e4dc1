"""Upserting mapped records into the record tables, fast and idempotently.

Each batch is COPYed into a temporary table, then merged with one
``INSERT … ON CONFLICT (natural key) DO UPDATE``. The update only fires when something
changed and the incoming record is not older than the stored one (export order is only
"usually" by modification time), so re-applying a page — a retried activity, a full resync —
changes nothing and is counted as ``unchanged``. ``RETURNING (xmax = 0)`` tells inserts from
updates.

Members get their primary phone and email from ``servicetitan_customer_contacts`` in the same
statement, so the order in which customers and contacts arrive does not matter.

The caller owns the transaction: rows, rejects, cursor and progress commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from records.copy_text import CopyBatch

CONTEXT_COLUMNS = ("company_id", "tenant", "trade", "hub_plus_import_id", "source_tenant_id")


@dataclass(frozen=True)
class RowContext:
    """The columns that come from the credential and the run, not from the record."""

    company_id: int
    tenant: str
    trade: str | None
    import_job_id: int | None
    source_tenant_id: str

    def values(self) -> tuple[Any, ...]:
        return (
            self.company_id,
            self.tenant,
            self.trade,
            self.import_job_id,
            self.source_tenant_id,
        )


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(frozen=True)
class TableSpec:
    table: str
    natural_key: str  # the UNIQUE constraint's name
    record_columns: tuple[str, ...]
    computed: dict[str, str]  # column → SQL expression over the staged row ``s``


def primary_contact_sql(types: str, *, company: str, tenant: str, customer: str) -> str:
    """SQL for a customer's primary contact value of ``types``: active, lowest contact id.

    The same rule as ``records.contact.primary_contacts`` (the reference the tests compare
    against): ``active IS TRUE``, blank values skipped.

    The arguments are SQL expressions naming the customer; ``types`` is a quoted,
    comma-separated list of contact types. Only module constants reach it, never input.

    Pass column references of an outer row, not placeholders: compared with a constant
    company/tenant the planner looks the value up in its statistics, finds no such tenant
    (a tenant's first sync: its rows arrived after the last ANALYZE), estimates one row and
    walks the primary key in contact-id order filtering on the customer — a scan of the whole
    tenant for every customer. Against a column it uses the number of distinct values instead
    and takes ``ix_customer_contacts_customer``. (Statistics must exist: see
    ``stale_statistics``.)
    """
    return (
        "(SELECT c.value FROM servicetitan_customer_contacts c "  # noqa: S608
        f"WHERE c.company_id = {company} AND c.source_tenant_id = {tenant} "
        f"AND c.customer_id = {customer} AND c.active IS TRUE AND c.type IN ({types}) "
        "AND btrim(c.value, ' ') <> '' ORDER BY c.contact_id LIMIT 1)"
    )


PHONE_TYPES = "'Phone', 'MobilePhone'"
EMAIL_TYPES = "'Email'"
_STAGED_CUSTOMER = {
    "company": "s.company_id",
    "tenant": "s.source_tenant_id",
    "customer": "s.customer_id",
}
PRIMARY_PHONE_SQL = primary_contact_sql(PHONE_TYPES, **_STAGED_CUSTOMER)
PRIMARY_EMAIL_SQL = primary_contact_sql(EMAIL_TYPES, **_STAGED_CUSTOMER)


def invoice_table(record_columns: tuple[str, ...]) -> TableSpec:
    return TableSpec("invoices_stream", "uq_invoices_stream_natural_key", record_columns, {})


def member_table(record_columns: tuple[str, ...]) -> TableSpec:
    return TableSpec(
        "members_stream",
        "uq_members_stream_natural_key",
        record_columns,
        {
            "customer_phone_number_primary": PRIMARY_PHONE_SQL,
            "customer_email": PRIMARY_EMAIL_SQL,
        },
    )


async def _ensure_stage_table(
    connection: AsyncConnection[Any], stage: str, spec: TableSpec
) -> None:
    columns = sql.SQL(", ").join(
        sql.Identifier(name) for name in (*CONTEXT_COLUMNS, *spec.record_columns)
    )
    # One round trip (simple query protocol: no parameters). DELETE, not TRUNCATE: the stage
    # is empty unless this transaction used it already, and TRUNCATE would give the temp
    # table a new file and rewrite catalog rows on every page.
    await connection.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            "SELECT {columns} FROM {table} WITH NO DATA; DELETE FROM {stage}"
        ).format(stage=sql.Identifier(stage), columns=columns, table=sql.Identifier(spec.table))
    )


def _merge_statement(stage: str, spec: TableSpec) -> sql.Composed:
    stored = (*CONTEXT_COLUMNS, *spec.record_columns)
    target_columns = [*stored, *spec.computed]
    select_list = [sql.SQL("s.{}").format(sql.Identifier(c)) for c in stored] + [
        sql.SQL(expr) for expr in spec.computed.values()
    ]
    # Everything but the natural key may change.
    key_columns = {"company_id", "source_tenant_id"}
    updatable = [c for c in target_columns if c not in key_columns]
    assignments = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updatable
    )
    changed = sql.SQL(" OR ").join(
        sql.SQL("t.{0} IS DISTINCT FROM EXCLUDED.{0}").format(sql.Identifier(c))
        for c in updatable
        if c != "hub_plus_import_id"
    )
    return sql.SQL(
        "INSERT INTO {table} AS t ({targets}) "
        "SELECT {select_list} FROM {stage} s "
        "ON CONFLICT ON CONSTRAINT {key} DO UPDATE SET {assignments}, updated_at = now() "
        "WHERE ({changed}) AND (t.source_modified_at IS NULL "
        "OR EXCLUDED.source_modified_at IS NULL "
        "OR EXCLUDED.source_modified_at >= t.source_modified_at) "
        "RETURNING (xmax = 0) AS inserted"
    ).format(
        table=sql.Identifier(spec.table),
        targets=sql.SQL(", ").join(sql.Identifier(c) for c in target_columns),
        select_list=sql.SQL(", ").join(select_list),
        stage=sql.Identifier(stage),
        key=sql.Identifier(spec.natural_key),
        assignments=assignments,
        changed=changed,
    )


async def upsert_batches(
    connection: AsyncConnection[Any], spec: TableSpec, batches: Sequence[CopyBatch]
) -> UpsertCounts:
    """Upsert rows already in COPY text form (context columns first, then the record's)."""
    counts = UpsertCounts()
    if not batches:
        return counts
    stage = f"stage_{spec.table}"
    await _ensure_stage_table(connection, stage, spec)
    merge = _merge_statement(stage, spec)
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(stage),
        sql.SQL(", ").join(sql.Identifier(c) for c in (*CONTEXT_COLUMNS, *spec.record_columns)),
    )
    async with connection.cursor() as cursor:
        for number, batch in enumerate(batches):
            if number:  # the previous batch's rows; the last batch's go at commit
                await cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(stage)))
            async with cursor.copy(copy_sql) as copy:
                await copy.write(batch.data)
            await cursor.execute(merge)
            results = await cursor.fetchall()
            inserted = sum(1 for (is_insert,) in results if is_insert)
            counts.inserted += inserted
            counts.updated += len(results) - inserted
            counts.unchanged += batch.rows - len(results)
    return counts


STATISTICS_TABLES = ("servicetitan_customer_contacts", "members_stream")
"""Tables whose statistics decide the plans above (primary-contact lookups, member joins)."""
STATISTICS_MIN_CHANGES = 1000
_ANALYZE_LOCK_KEY = 0x5354_414E_414C  # any constant: one ANALYZE of these tables at a time


async def stale_statistics(connection: AsyncConnection[Any]) -> list[str]:
    """The tables of ``STATISTICS_TABLES`` whose statistics are missing or far behind.

    Why: on a table that was never analyzed (a new installation's first sync) the planner
    estimates one row for any tenant and resolves every primary-contact lookup by scanning
    the tenant's contacts in primary-key order, quadratic in the tenant's size. Autovacuum
    analyzes only after its naptime and 10% of changes, too late for a sync that starts on
    an empty table. So with every customers/contacts page the sync asks for statistics when
    a table has at least doubled (``n_mod_since_analyze >= n_live_tup``) since the last
    ANALYZE, which happens about log2(rows / 1000) times over a table's life.

    The sync checks inside the page's transaction (one statement) and hands the stale tables
    to ``analyze_statistics`` after that transaction commits.
    """
    async with connection.cursor() as cursor:
        # reltuples < 0 (never analyzed) is seen at once; the activity counters lag by up
        # to a second, which is several pages.
        await cursor.execute(
            "SELECT c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.relname = ANY(%s) AND ((c.reltuples < 0 AND pg_relation_size(c.oid) > 0) "
            "OR s.n_mod_since_analyze >= greatest(%s, s.n_live_tup))",
            (list(STATISTICS_TABLES), STATISTICS_MIN_CHANGES),
        )
        return [str(row[0]) for row in await cursor.fetchall()]


async def analyze_statistics(connection: AsyncConnection[Any], tables: list[str]) -> list[str]:
    """ANALYZE ``tables`` unless another session is analyzing them; the tables analyzed.

    Run it in a short transaction of its own, not a page's: ANALYZE holds a lock that
    conflicts with another ANALYZE until commit. Concurrent callers skip instead of queueing
    (an advisory lock). A role that does not own the tables gets a warning from PostgreSQL
    and nothing else.
    """
    async with connection.cursor() as cursor:
        await cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", (_ANALYZE_LOCK_KEY,))
        row = await cursor.fetchone()
        if not row or not row[0]:
            return []
        for table in tables:
            if table not in STATISTICS_TABLES:
                raise ValueError(f"not a table whose statistics the sync keeps: {table}")
            await cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return tables


PREVIOUS_CUSTOMERS_SQL = (
    "WITH tenant AS MATERIALIZED (SELECT %(company)s::smallint AS company_id, "
    "%(tenant)s::varchar AS source_tenant_id) "
    "SELECT DISTINCT t.customer_id FROM tenant k CROSS JOIN stage_contacts s CROSS JOIN LATERAL "
    "(SELECT c.customer_id FROM servicetitan_customer_contacts c "
    "WHERE c.company_id = k.company_id AND c.source_tenant_id = k.source_tenant_id "
    "AND c.contact_id = s.contact_id LIMIT 1) t "
    "WHERE t.customer_id <> s.customer_id"
)
"""The customers that staged contacts belonged to until now, where that changes.

One primary-key probe per staged contact (``LATERAL … LIMIT 1``), whatever the statistics
say: written as a join, the planner, knowing nothing about the stage table, hashes the
tenant's whole contact table on every page, a cost that grows with the tenant. Company and
tenant come from a materialized CTE's columns, not constants, for the reason
``primary_contact_sql`` gives: a tenant the statistics do not know yet would be estimated at
one row and probed through its customer index, one pass over its contacts per contact.
"""

CONTACT_TABLE_COLUMNS = frozenset(
    {"contact_id", "customer_id", "type", "value", "active", "source_modified_at"}
)


async def upsert_contact_batches(
    connection: AsyncConnection[Any],
    company_id: int,
    source_tenant_id: str,
    batches: Sequence[CopyBatch],
    columns: Sequence[str],
) -> tuple[UpsertCounts, int]:
    """Upsert contacts (COPY text, ``columns`` order), then their members' phone and email.

    Returns the contact counts and how many member rows changed as a result.
    """
    counts = UpsertCounts()
    total = sum(batch.rows for batch in batches)
    if not total:
        return counts, 0
    if set(columns) != CONTACT_TABLE_COLUMNS:
        raise ValueError(f"contact rows must have the columns {sorted(CONTACT_TABLE_COLUMNS)}")
    async with connection.cursor() as cursor:
        await cursor.execute(  # see _ensure_stage_table
            "CREATE TEMP TABLE IF NOT EXISTS stage_contacts ON COMMIT DELETE ROWS AS "
            "SELECT contact_id, customer_id, type, value, active, source_modified_at "
            "FROM servicetitan_customer_contacts WITH NO DATA; DELETE FROM stage_contacts"
        )
        async with cursor.copy(
            sql.SQL("COPY stage_contacts ({}) FROM STDIN").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
        ) as copy:
            for batch in batches:
                await copy.write(batch.data)
        params = {"company": company_id, "tenant": source_tenant_id}
        # A contact re-pointed to another customer changes its previous customer's primary
        # contacts too: remember those customers before the upsert overwrites the link.
        await cursor.execute(PREVIOUS_CUSTOMERS_SQL, params)
        previous_customers = [row[0] for row in await cursor.fetchall()]
        await cursor.execute(
            "INSERT INTO servicetitan_customer_contacts AS t (company_id, source_tenant_id, "
            "contact_id, customer_id, type, value, active, source_modified_at) "
            "SELECT %(company)s, %(tenant)s, s.contact_id, s.customer_id, s.type, s.value, "
            "s.active, s.source_modified_at FROM stage_contacts s "
            "ON CONFLICT (company_id, source_tenant_id, contact_id) DO UPDATE SET "
            "customer_id = EXCLUDED.customer_id, type = EXCLUDED.type, value = EXCLUDED.value, "
            "active = EXCLUDED.active, source_modified_at = EXCLUDED.source_modified_at, "
            "updated_at = now() "
            "WHERE (t.customer_id, t.type, t.value, t.active, t.source_modified_at) "
            "IS DISTINCT FROM (EXCLUDED.customer_id, EXCLUDED.type, EXCLUDED.value, "
            "EXCLUDED.active, EXCLUDED.source_modified_at) "
            "AND (t.source_modified_at IS NULL OR EXCLUDED.source_modified_at IS NULL "
            "OR EXCLUDED.source_modified_at >= t.source_modified_at) "
            "RETURNING (xmax = 0) AS inserted",
            params,
        )
        results = await cursor.fetchall()
        inserted = sum(1 for (is_insert,) in results if is_insert)
        counts.inserted, counts.updated = inserted, len(results) - inserted
        counts.unchanged = total - len(results)
        # Company and tenant ride along as columns of a materialized CTE, so the lookups
        # compare with columns, not constants (see primary_contact_sql).
        affected = {"company": "a.company_id", "tenant": "a.tenant", "customer": "a.customer_id"}
        await cursor.execute(  # constants only in the f-strings; values are parameters
            "WITH affected AS MATERIALIZED (SELECT ids.customer_id, "  # noqa: S608
            "%(company)s::smallint AS company_id, %(tenant)s::varchar AS tenant FROM "
            "(SELECT customer_id FROM stage_contacts "
            "UNION SELECT unnest(%(previous)s::text[])) ids), "
            "primary_contacts AS (SELECT a.customer_id, "
            f"{primary_contact_sql(PHONE_TYPES, **affected)} AS phone, "
            f"{primary_contact_sql(EMAIL_TYPES, **affected)} AS email FROM affected a) "
            "UPDATE members_stream m SET customer_phone_number_primary = p.phone, "
            "customer_email = p.email, updated_at = now() FROM primary_contacts p "
            "WHERE m.company_id = %(company)s AND m.software = 'ServiceTitan' "
            "AND m.source_tenant_id = %(tenant)s AND m.customer_id = p.customer_id "
            "AND (m.customer_phone_number_primary, m.customer_email) "
            "IS DISTINCT FROM (p.phone, p.email)",
            {**params, "previous": previous_customers},
        )
        members_changed = cursor.rowcount
    return counts, max(members_changed, 0)
