"""Secrets are encrypted at rest, bound to their row and column, keys rotate, and a lost or
wrong key fails with a clear message."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from core.crypto import (
    ENVELOPE_PREFIX,
    DecryptionError,
    EncryptionKeyError,
    KeyRing,
    SecretBox,
    aad_for,
    generate_key,
    secret_box_from_settings,
)
from db import credentials
from db.database import Database
from db.token_store import DatabaseTokenStore

SECRET_7 = aad_for("servicetitan_credentials", 7, "client_secret")


def _box(*keys: str) -> SecretBox:
    return SecretBox(KeyRing.parse(",".join(keys)))


def test_round_trip_and_the_envelope_names_version_and_key_but_hides_the_plaintext() -> None:
    key = generate_key()
    box = _box(key)
    ciphertext = box.encrypt("cs1.super-secret", aad=SECRET_7)
    assert "super-secret" not in ciphertext
    version, key_id, _payload = ciphertext.split(".")
    assert f"{version}." == f"{ENVELOPE_PREFIX}."
    assert key_id == KeyRing.parse(key).key_ids[0]
    assert box.decrypt(ciphertext, aad=SECRET_7, what="test") == "cs1.super-secret"
    # Random nonce: equal secrets give different ciphertexts.
    assert box.encrypt("same", aad=SECRET_7) != box.encrypt("same", aad=SECRET_7)


@pytest.mark.parametrize(
    "elsewhere",
    [
        aad_for("servicetitan_credentials", 8, "client_secret"),  # another credential
        aad_for("servicetitan_credentials", 7, "client_id"),  # another column
        aad_for("servicetitan_credentials", 7, "access_token"),
    ],
)
def test_a_ciphertext_copied_to_another_row_or_column_does_not_decrypt(elsewhere: str) -> None:
    box = _box(generate_key())
    ciphertext = box.encrypt("cs1.secret-of-seven", aad=SECRET_7)
    with pytest.raises(DecryptionError, match="the x of credential 8") as caught:
        box.decrypt(ciphertext, aad=elsewhere, what="x of credential 8")
    assert "another row or column" in str(caught.value)
    assert caught.value.__cause__ is None  # no cryptography traceback chained in


def test_a_tampered_ciphertext_does_not_decrypt() -> None:
    box = _box(generate_key())
    version, key_id, payload = box.encrypt("value", aad=SECRET_7).split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(DecryptionError):
        box.decrypt(f"{version}.{key_id}.{flipped}", aad=SECRET_7, what="x")


def test_old_keys_decrypt_until_rotated_then_only_the_new_key_is_needed() -> None:
    old, new = generate_key(), generate_key()
    ciphertext = _box(old).encrypt("value", aad=SECRET_7)
    both = _box(new, old)
    assert both.decrypt(ciphertext, aad=SECRET_7, what="x") == "value"
    assert not both.is_current(ciphertext)
    rotated = both.rotate(ciphertext, aad=SECRET_7, what="x")
    assert both.is_current(rotated)
    assert _box(new).decrypt(rotated, aad=SECRET_7, what="x") == "value"
    with pytest.raises(DecryptionError, match="not in CREDENTIAL_ENCRYPTION_KEYS"):
        _box(old).decrypt(rotated, aad=SECRET_7, what="x")


def test_a_ciphertext_no_key_opens_names_what_it_was() -> None:
    ciphertext = _box(generate_key()).encrypt("value", aad=SECRET_7)
    with pytest.raises(DecryptionError, match="client_secret of credential 7") as caught:
        _box(generate_key()).decrypt(ciphertext, aad=SECRET_7, what="client_secret of credential 7")
    assert caught.value.__cause__ is None


def test_an_old_fernet_value_is_refused_at_run_time_but_read_by_the_migration_helpers() -> None:
    key = generate_key()
    legacy = Fernet(key.encode()).encrypt(b"cs1.old-format").decode()
    box = _box(key)
    with pytest.raises(DecryptionError, match="db upgrade"):
        box.decrypt(legacy, aad=SECRET_7, what="x")
    assert box.decrypt_fernet(legacy, what="x") == "cs1.old-format"
    back = box.encrypt_fernet("cs1.old-format")
    assert Fernet(key.encode()).decrypt(back.encode()) == b"cs1.old-format"


def test_keys_are_32_random_bytes_and_existing_fernet_keys_stay_valid() -> None:
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert generate_key() != key
    fernet_key = Fernet.generate_key().decode()  # what CREDENTIAL_ENCRYPTION_KEYS held so far
    box = _box(fernet_key)
    assert box.decrypt(box.encrypt("v", aad=SECRET_7), aad=SECRET_7, what="x") == "v"
    # Key ids differ per key and do not reveal it.
    ring = KeyRing.parse(f"{key},{fernet_key}")
    assert len(set(ring.key_ids)) == 2
    assert all(key_id not in key and key_id not in fernet_key for key_id in ring.key_ids)


@pytest.mark.parametrize(
    "keys",
    ["", " , ", "not-a-key", f"{'A' * 10},x", base64.urlsafe_b64encode(os.urandom(16)).decode()],
)
def test_malformed_keys_are_rejected_with_the_variable_name(keys: str) -> None:
    with pytest.raises(EncryptionKeyError, match="CREDENTIAL_ENCRYPTION_KEYS"):
        KeyRing.parse(keys)


def test_key_ring_repr_never_shows_keys() -> None:
    key = generate_key()
    assert key not in repr(KeyRing.parse(key))
    assert key not in repr(_box(key))


def test_development_key_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    first = secret_box_from_settings(None, tmp_path)
    key_file = tmp_path / "dev-encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = secret_box_from_settings(None, tmp_path)
    assert second.decrypt(first.encrypt("x", aad=SECRET_7), aad=SECRET_7, what="x") == "x"


async def _acme(database: Database, box: SecretBox, *, intacct: str = "ACME") -> int:
    async with database.transaction() as connection:
        company = await credentials.add_company(
            connection, name=intacct, intacct_id=intacct, primary_trade="Plumbing", actor="test"
        )
        return await credentials.add_credential(
            connection,
            box,
            company_id=company,
            tenant_id="1001",
            client_id=f"cid.{intacct.lower()}123456",
            client_secret=f"cs1.{intacct.lower()}secretvalue",
            environment="production",
            actor="test",
        )


async def test_stored_credentials_are_encrypted_and_rotation_rewrites_them(
    database: Database, database_url: str
) -> None:
    old, new = generate_key(), generate_key()
    old_box = _box(old)
    credential = await _acme(database, old_box)
    with psycopg.connect(database_url) as raw:
        stored = raw.execute(
            "SELECT client_id, client_secret FROM servicetitan_credentials"
        ).fetchone()
        assert stored is not None
        assert "acme123456" not in stored[0] and stored[0].startswith(f"{ENVELOPE_PREFIX}.")
        assert "acmesecretvalue" not in stored[1]

    rotating = _box(new, old)
    async with database.transaction() as connection:
        first = await credentials.rotate_encryption(connection, rotating, actor="test")
        again = await credentials.rotate_encryption(connection, rotating, actor="test")
    assert (first.rewritten, first.tokens_dropped) == (2, 0)
    assert (again.rewritten, again.tokens_dropped) == (0, 0)

    new_only = _box(new)
    async with database.transaction() as connection:
        secrets = await credentials.load_secrets(connection, new_only, credential)
        info = await credentials.get_credential(connection, new_only, credential)
    assert (secrets.client_id, secrets.client_secret) == ("cid.acme123456", "cs1.acmesecretvalue")
    assert "acmesecretvalue" not in repr(secrets)
    assert info.client_id_masked == "cid.…3456"

    async with database.transaction() as connection:
        with pytest.raises(DecryptionError, match=f"credential {credential}"):
            await credentials.load_secrets(connection, old_box, credential)


async def test_a_secret_copied_into_another_credential_or_column_is_refused(
    database: Database, database_url: str
) -> None:
    """Write access to the table without the key must not let A's secret serve B."""
    box = _box(generate_key())
    a = await _acme(database, box, intacct="ALPHA")
    b = await _acme(database, box, intacct="BRAVO")
    with psycopg.connect(database_url, autocommit=True) as raw:
        raw.execute(
            "UPDATE servicetitan_credentials SET client_secret = "
            "(SELECT client_secret FROM servicetitan_credentials WHERE id = %s) WHERE id = %s",
            (a, b),
        )
    async with database.transaction() as connection:
        with pytest.raises(DecryptionError, match=f"client_secret of credential {b}"):
            await credentials.load_secrets(connection, box, b)
        assert (await credentials.load_secrets(connection, box, a)).client_secret == (
            "cs1.alphasecretvalue"
        )
    # A's secret pasted into A's own client_id column: `credentials list` must not print its
    # masked ends.
    with psycopg.connect(database_url, autocommit=True) as raw:
        raw.execute(
            "UPDATE servicetitan_credentials SET client_id = client_secret WHERE id = %s", (a,)
        )
    async with database.transaction() as connection:
        with pytest.raises(DecryptionError, match=f"client_id of credential {a}"):
            await credentials.get_credential(connection, box, a)


async def test_a_cached_token_copied_from_another_credential_is_not_used(
    database: Database, database_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from servicetitan.tokens import AccessToken

    box = _box(generate_key())
    a = await _acme(database, box, intacct="ALPHA")
    b = await _acme(database, box, intacct="BRAVO")
    store = DatabaseTokenStore(database, box)
    await store.save(
        a, AccessToken("opaque-token-of-alpha", datetime.now(UTC) + timedelta(hours=1))
    )
    assert (await store.load(a)) is not None
    with psycopg.connect(database_url, autocommit=True) as raw:
        raw.execute(
            "UPDATE servicetitan_credentials SET (access_token, token_expires_at) = "
            "(SELECT access_token, token_expires_at FROM servicetitan_credentials WHERE id = %s) "
            "WHERE id = %s",
            (a, b),
        )
    assert await store.load(b) is None  # disposable: a new token will be requested


async def test_rotation_drops_cached_tokens_no_key_opens_and_says_how_many(
    database: Database, database_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from servicetitan.tokens import AccessToken

    old, new, lost = generate_key(), generate_key(), generate_key()
    box = _box(old)
    a = await _acme(database, box, intacct="ALPHA")
    b = await _acme(database, box, intacct="BRAVO")
    # B's cached token was written by a process with a key nobody has any more.
    await DatabaseTokenStore(database, _box(lost)).save(
        b, AccessToken("opaque-token-of-bravo", datetime.now(UTC) + timedelta(hours=1))
    )
    await DatabaseTokenStore(database, box).save(
        a, AccessToken("opaque-token-of-alpha", datetime.now(UTC) + timedelta(hours=1))
    )
    rotating = _box(new, old)
    async with database.transaction() as connection:
        result = await credentials.rotate_encryption(connection, rotating, actor="test")
    assert (result.rewritten, result.tokens_dropped) == (5, 1)
    with psycopg.connect(database_url) as raw:
        rows = raw.execute(
            "SELECT id, access_token IS NULL, token_expires_at IS NULL "
            "FROM servicetitan_credentials ORDER BY id"
        ).fetchall()
        audit = raw.execute(
            "SELECT details FROM audit_log WHERE action = 'keys.rotated'"
        ).fetchone()
    assert rows == [(a, False, False), (b, True, True)]
    assert audit is not None and audit[0]["tokens_dropped"] == 1
    token = await DatabaseTokenStore(database, _box(new)).load(a)
    assert token is not None and token.value == "opaque-token-of-alpha"


async def test_rotation_still_refuses_when_a_secret_cannot_be_decrypted(
    database: Database, database_url: str
) -> None:
    old, new, lost = generate_key(), generate_key(), generate_key()
    await _acme(database, _box(old), intacct="ALPHA")
    b = await _acme(database, _box(lost), intacct="BRAVO")
    with pytest.raises(DecryptionError, match=f"credential {b}"):
        async with database.transaction() as connection:
            await credentials.rotate_encryption(connection, _box(new, old), actor="test")
    with psycopg.connect(database_url) as raw:
        row = raw.execute("SELECT count(*) FROM audit_log WHERE action = 'keys.rotated'").fetchone()
    assert row == (0,)  # nothing committed
