"""Migrations build exactly the schema in db/schema.py, and undo it."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from db import migrate
from db.engine import make_sync_engine
from db.schema import metadata

EXPECTED_TABLES = {
    "companies",
    "company_data_import_jobs",
    "servicetitan_credentials",
    "servicetitan_sync_logs",
    "invoices_stream",
    "members_stream",
    "servicetitan_customer_contacts",
    "servicetitan_sync_state",
    "servicetitan_staged_pages",
    "servicetitan_rejected_records",
    "servicetitan_dispatch_outbox",
    "audit_log",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows} - {"alembic_version"}


def test_upgrade_from_empty_creates_every_table_then_downgrade_removes_them(
    empty_database_url: str,
) -> None:
    assert _tables(empty_database_url) == set()
    assert migrate.current_revision(empty_database_url) is None

    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == EXPECTED_TABLES
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    migrate.check_up_to_date(empty_database_url)

    migrate.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()

    migrate.upgrade(empty_database_url)  # and up again: downgrade left nothing behind
    assert _tables(empty_database_url) == EXPECTED_TABLES


def test_migrated_schema_matches_the_sqlalchemy_models(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_server_default": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_staged_pages_table_is_unlogged(database_url: str) -> None:
    with psycopg.connect(database_url) as connection:
        persistence = connection.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = 'servicetitan_staged_pages'"
        ).fetchone()
    assert persistence == ("u",)


def test_out_of_date_schema_is_reported_with_the_fix(empty_database_url: str) -> None:
    import pytest

    with pytest.raises(migrate.SchemaOutOfDateError, match=r"starter\.py db upgrade"):
        migrate.check_up_to_date(empty_database_url)
