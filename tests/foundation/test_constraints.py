"""The seed's CHECK and UNIQUE constraints reject bad rows at the database itself."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO companies (id, name, intacct_id, primary_trade) "
            "VALUES (1, 'Acme Plumbing', 'ACME1', 'Plumbing'), (2, 'Bolt HVAC', 'BOLT2', 'HVAC')"
        )
        yield connection


def _credential(
    conn: psycopg.Connection, company: int = 1, overrides: dict[str, object] | None = None
) -> None:
    values: dict[str, object] = {
        "company_id": company,
        "tenant_id": "1001",
        "client_id": "enc",
        "client_secret": "enc",
        "environment": "production",
        "connection_status": "pending",
    }
    values.update(overrides or {})
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    conn.execute(
        f"INSERT INTO servicetitan_credentials ({columns}) VALUES ({placeholders})",  # noqa: S608
        list(values.values()),
    )


def test_good_credential_row_is_accepted(conn: psycopg.Connection) -> None:
    _credential(conn)
    _credential(conn, overrides={"environment": "integration"})
    assert conn.execute("SELECT count(*) FROM servicetitan_credentials").fetchone() == (2,)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"environment": "staging"}, "ck_servicetitan_credentials_environment"),
        ({"connection_status": "unknown"}, "ck_servicetitan_credentials_connection_status"),
        ({"refresh_token": "anything"}, "ck_servicetitan_credentials_no_refresh_token"),
        ({"tenant_id": "acme"}, "ck_servicetitan_credentials_tenant_id_numeric"),
    ],
)
def test_bad_credential_values_are_rejected(
    conn: psycopg.Connection, overrides: dict[str, object], constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        _credential(conn, overrides=overrides)


def test_second_credential_for_same_company_and_environment_is_rejected(
    conn: psycopg.Connection,
) -> None:
    _credential(conn)
    _credential(conn, company=2)  # another company may use the same environment
    with pytest.raises(psycopg.errors.UniqueViolation, match="company_id_environment"):
        _credential(conn, overrides={"tenant_id": "2002"})


@pytest.mark.parametrize(
    ("column", "value"),
    [("sync_type", "hourly"), ("data_type", "payments"), ("status", "paused")],
)
def test_sync_log_checks(conn: psycopg.Connection, column: str, value: str) -> None:
    _credential(conn)
    row = {"sync_type": "manual", "data_type": "both", "status": "running", column: value}
    with pytest.raises(psycopg.errors.CheckViolation, match=column):
        conn.execute(
            "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status) "
            "SELECT id, %s, %s, %s FROM servicetitan_credentials",
            [row["sync_type"], row["data_type"], row["status"]],
        )


def test_only_one_running_sync_log_per_credential(conn: psycopg.Connection) -> None:
    _credential(conn)
    insert = (
        "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status) "
        "SELECT id, 'manual', 'both', %s FROM servicetitan_credentials"
    )
    conn.execute(insert, ["completed"])
    conn.execute(insert, ["running"])
    with pytest.raises(psycopg.errors.UniqueViolation, match="one_running"):
        conn.execute(insert, ["running"])


@pytest.mark.parametrize(
    ("table", "key_column"),
    [("invoices_stream", "invoice_number"), ("members_stream", "customer_id")],
)
def test_record_tables_enforce_their_natural_key(
    conn: psycopg.Connection, table: str, key_column: str
) -> None:
    insert = (
        f"INSERT INTO {table} (company_id, tenant, source_tenant_id, {key_column}) "  # noqa: S608
        "VALUES (%s, 'ACME1', '1001', '42')"
    )
    conn.execute(insert, [1])
    conn.execute(insert, [2])  # the same ServiceTitan id under another company is another row
    with pytest.raises(psycopg.errors.UniqueViolation, match="natural_key"):
        conn.execute(insert, [1])
    software = conn.execute(f"SELECT DISTINCT software FROM {table}").fetchall()  # noqa: S608
    assert software == [("ServiceTitan",)]
