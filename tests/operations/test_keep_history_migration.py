"""Migration 0004: a deleted credential's history stays; the downgrade restores the cascades."""

from __future__ import annotations

from typing import Any

import psycopg

from db import migrate

TABLES = ("servicetitan_sync_logs", "servicetitan_rejected_records", "servicetitan_dispatch_outbox")


def _sql(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _credential_with_history(url: str, tenant: str) -> int:
    """A credential (ciphertexts are never read here) with a run, a reject and a hand-off."""
    ((company,),) = _sql(
        url,
        "INSERT INTO companies (name, intacct_id, primary_trade) VALUES (%s, %s, 'HVAC') "
        "RETURNING id",
        f"Company {tenant}",
        f"INT{tenant}",
    )
    ((credential,),) = _sql(
        url,
        "INSERT INTO servicetitan_credentials (company_id, tenant_id, client_id, client_secret, "
        "environment) VALUES (%s, %s, 'x', 'y', 'production') RETURNING id",
        company,
        tenant,
    )
    ((log,),) = _sql(
        url,
        "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status) "
        "VALUES (%s, 'manual', 'both', 'completed') RETURNING id",
        credential,
    )
    _sql(
        url,
        "INSERT INTO servicetitan_rejected_records (credential_id, company_id, sync_log_id, "
        "stream, reason, raw) VALUES (%s, %s, %s, 'invoices', 'bad', '{}')",
        credential,
        company,
        log,
    )
    _sql(
        url,
        "INSERT INTO servicetitan_dispatch_outbox (sync_log_id, company_id, credential_id, "
        "records_synced) VALUES (%s, %s, %s, 1)",
        log,
        company,
        credential,
    )
    return int(credential)


def _counts(url: str) -> dict[str, int]:
    return {table: _sql(url, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}  # noqa: S608


def test_history_outlives_its_credential_and_the_downgrade_brings_back_the_cascade(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    migrate.upgrade(url, "0004")
    gone = _credential_with_history(url, "1001")
    _sql(url, "DELETE FROM servicetitan_credentials WHERE id = %s", gone)
    assert _counts(url) == dict.fromkeys(TABLES, 1)

    kept = _credential_with_history(url, "1002")
    migrate.downgrade(url, "0003")
    # The old schema cannot hold a row without its credential: those go, the others stay.
    assert _counts(url) == dict.fromkeys(TABLES, 1)
    for table in TABLES:
        assert _sql(url, f"SELECT credential_id FROM {table}") == [(kept,)]  # noqa: S608
    _sql(url, "DELETE FROM servicetitan_credentials WHERE id = %s", kept)
    assert _counts(url) == dict.fromkeys(TABLES, 0)  # cascaded, as before 0004

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    migrate.check_up_to_date(url)
