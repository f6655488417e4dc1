"""Migrations build exactly the schema in db/schema.py, and undo it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet

from core.crypto import (
    ENVELOPE_PREFIX,
    DecryptionError,
    EncryptionKeyError,
    KeyRing,
    SecretBox,
    aad_for,
    generate_key,
)
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
    "servicetitan_field_warnings",
    "servicetitan_dispatch_outbox",
    "audit_log",
    "api_tokens",
    "servicetitan_rate_limits",
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


@pytest.mark.parametrize("table", ["servicetitan_staged_pages", "servicetitan_rate_limits"])
def test_disposable_tables_are_unlogged(database_url: str, table: str) -> None:
    with psycopg.connect(database_url) as connection:
        persistence = connection.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = %s", (table,)
        ).fetchone()
    assert persistence == ("u",)


def test_out_of_date_schema_is_reported_with_the_fix(empty_database_url: str) -> None:
    with pytest.raises(migrate.SchemaOutOfDateError, match=r"starter\.py db upgrade"):
        migrate.check_up_to_date(empty_database_url)


# --- 0003: Fernet values re-encrypted, bound to their row and column, and back ---------------

COLUMNS = ("client_id", "client_secret", "access_token")


def _fernet_credentials(url: str, key: str, *, lost_token_key: str | None = None) -> list[int]:
    """Two credentials as release 0002 stored them (Fernet); the second has a cached token."""
    fernet = Fernet(key.encode())
    token_fernet = Fernet((lost_token_key or key).encode())
    ids = []
    with psycopg.connect(url, autocommit=True) as connection:
        for number in (1, 2):
            company = connection.execute(
                "INSERT INTO companies (name, intacct_id, primary_trade) "
                "VALUES (%s, %s, 'Plumbing') RETURNING id",
                (f"Co {number}", f"CO{number}"),
            ).fetchone()
            assert company is not None
            token = token_fernet.encrypt(b"opaque-token-2").decode() if number == 2 else None
            row = connection.execute(
                "INSERT INTO servicetitan_credentials (company_id, tenant_id, client_id, "
                "client_secret, environment, access_token, token_expires_at) "
                "VALUES (%s, '1001', %s, %s, 'production', %s, "
                "CASE WHEN %s::text IS NULL THEN NULL ELSE now() + interval '1 hour' END) "
                "RETURNING id",
                (
                    company[0],
                    fernet.encrypt(f"cid.client-{number}".encode()).decode(),
                    fernet.encrypt(f"cs1.secret-{number}".encode()).decode(),
                    token,
                    token,
                ),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


def _stored(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT id, client_id, client_secret, access_token, token_expires_at "
            "FROM servicetitan_credentials ORDER BY id"
        ).fetchall()


def _keys_as_the_app_reads_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, keys: str | None, *, configured: bool
) -> None:
    for name in ("CREDENTIAL_ENCRYPTION_KEYS", "DATABASE_URL", "TEMPORAL_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env
    if keys is not None:
        monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEYS", keys)
    if configured:
        monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")


def test_0003_reencrypts_bound_to_row_and_column_and_downgrade_restores_fernet(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old, new = generate_key(), generate_key()
    url = empty_database_url
    migrate.upgrade(url, "0002")
    first, second = _fernet_credentials(url, old)
    _keys_as_the_app_reads_them(monkeypatch, tmp_path, f"{new},{old}", configured=True)

    migrate.upgrade(url, "0003")
    box = SecretBox(KeyRing.parse(new))  # the newest key encrypts: the old one can go
    plain = {
        first: ("cid.client-1", "cs1.secret-1", None),
        second: ("cid.client-2", "cs1.secret-2", "opaque-token-2"),
    }
    for credential, *values, _expires in _stored(url):
        for column, value, expected in zip(COLUMNS, values, plain[credential], strict=True):
            if expected is None:
                assert value is None
                continue
            assert value.startswith(f"{ENVELOPE_PREFIX}."), value
            aad = aad_for("servicetitan_credentials", credential, column)
            assert box.decrypt(value, aad=aad, what=column) == expected
            other = aad_for("servicetitan_credentials", first + second - credential, column)
            with pytest.raises(DecryptionError):
                box.decrypt(value, aad=other, what=column)

    migrate.downgrade(url, "0002")
    fernet = Fernet(new.encode())
    for credential, *values, _expires in _stored(url):
        for value, expected in zip(values, plain[credential], strict=True):
            if expected is None:
                assert value is None
            else:
                assert fernet.decrypt(value.encode()).decode() == expected

    migrate.upgrade(url)  # and up again to head
    assert migrate.current_revision(url) == migrate.head_revision()


def test_0003_drops_a_cached_token_no_key_opens(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = generate_key()
    url = empty_database_url
    migrate.upgrade(url, "0002")
    _first, second = _fernet_credentials(url, key, lost_token_key=generate_key())
    _keys_as_the_app_reads_them(monkeypatch, tmp_path, key, configured=True)
    migrate.upgrade(url, "0003")
    stored = {row[0]: row for row in _stored(url)}
    assert stored[second][3] is None and stored[second][4] is None


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "embedded"])
def test_0003_without_keys_refuses_with_the_fix_and_changes_nothing(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, configured: bool
) -> None:
    url = empty_database_url
    migrate.upgrade(url, "0002")
    _fernet_credentials(url, generate_key())
    before = _stored(url)
    _keys_as_the_app_reads_them(monkeypatch, tmp_path, None, configured=configured)
    with pytest.raises(EncryptionKeyError, match="CREDENTIAL_ENCRYPTION_KEYS") as caught:
        migrate.upgrade(url, "0003")
    assert "2 stored credentials" in str(caught.value) and "\n" not in str(caught.value)
    assert migrate.current_revision(url) == "0002"
    assert _stored(url) == before
    assert list(tmp_path.iterdir()) == []  # no development key invented


def test_0003_with_a_wrong_key_refuses_and_changes_nothing(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = empty_database_url
    migrate.upgrade(url, "0002")
    first, _second = _fernet_credentials(url, generate_key())
    before = _stored(url)
    _keys_as_the_app_reads_them(monkeypatch, tmp_path, generate_key(), configured=True)
    with pytest.raises(DecryptionError, match=f"client_id of credential {first}"):
        migrate.upgrade(url, "0003")
    assert migrate.current_revision(url) == "0002"
    assert _stored(url) == before


def test_0003_on_a_database_without_credentials_needs_no_key(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _keys_as_the_app_reads_them(monkeypatch, tmp_path, None, configured=True)
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
