"""Secrets are encrypted at rest, keys rotate, and a lost key fails with a clear message."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from core.crypto import (
    DecryptionError,
    EncryptionKeyError,
    KeyRing,
    SecretBox,
    generate_key,
    secret_box_from_settings,
)
from db import credentials
from db.database import Database


def test_round_trip_and_ciphertext_hides_the_plaintext() -> None:
    box = SecretBox(KeyRing.parse(generate_key()))
    ciphertext = box.encrypt("cs1.super-secret")
    assert "super-secret" not in ciphertext
    assert box.decrypt(ciphertext, what="test") == "cs1.super-secret"
    assert box.encrypt("same") != box.encrypt("same")  # random IV: equal secrets don't leak


def test_old_keys_decrypt_until_rotated_then_only_the_new_key_is_needed() -> None:
    old, new = generate_key(), generate_key()
    ciphertext = SecretBox(KeyRing.parse(old)).encrypt("value")
    both = SecretBox(KeyRing.parse(f"{new},{old}"))
    assert both.decrypt(ciphertext, what="x") == "value"
    assert not both.is_current(ciphertext)
    rotated = both.rotate(ciphertext, what="x")
    assert both.is_current(rotated)
    assert SecretBox(KeyRing.parse(new)).decrypt(rotated, what="x") == "value"
    with pytest.raises(DecryptionError):
        SecretBox(KeyRing.parse(old)).decrypt(rotated, what="x")


def test_a_ciphertext_no_key_opens_names_what_it_was() -> None:
    ciphertext = SecretBox(KeyRing.parse(generate_key())).encrypt("value")
    other = SecretBox(KeyRing.parse(generate_key()))
    with pytest.raises(DecryptionError, match="client_secret of credential 7") as caught:
        other.decrypt(ciphertext, what="client_secret of credential 7")
    assert caught.value.__cause__ is None  # no cryptography traceback chained in


@pytest.mark.parametrize("keys", ["", " , ", "not-a-key", f"{'A' * 10},x"])
def test_malformed_keys_are_rejected_with_the_variable_name(keys: str) -> None:
    with pytest.raises(EncryptionKeyError, match="CREDENTIAL_ENCRYPTION_KEYS"):
        KeyRing.parse(keys)


def test_key_ring_repr_never_shows_keys() -> None:
    key = generate_key()
    assert key not in repr(KeyRing.parse(key))
    assert key not in repr(SecretBox(KeyRing.parse(key)))


def test_development_key_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    first = secret_box_from_settings(None, tmp_path)
    key_file = tmp_path / "dev-encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = secret_box_from_settings(None, tmp_path)
    assert second.decrypt(first.encrypt("x"), what="x") == "x"


async def test_stored_credentials_are_encrypted_and_rotation_rewrites_them(
    database: Database, database_url: str
) -> None:
    old, new = generate_key(), generate_key()
    old_box = SecretBox(KeyRing.parse(old))
    async with database.transaction() as connection:
        company = await credentials.add_company(
            connection, name="Acme", intacct_id="ACME", primary_trade="Plumbing", actor="test"
        )
        credential = await credentials.add_credential(
            connection,
            old_box,
            company_id=company,
            tenant_id="1001",
            client_id="cid.abcdef123456",
            client_secret="cs1.topsecretvalue",
            environment="production",
            actor="test",
        )
    with psycopg.connect(database_url) as raw:
        stored = raw.execute(
            "SELECT client_id, client_secret FROM servicetitan_credentials"
        ).fetchone()
        assert stored is not None
        assert "abcdef123456" not in stored[0]
        assert "topsecretvalue" not in stored[1]

    rotating = SecretBox(KeyRing.parse(f"{new},{old}"))
    async with database.transaction() as connection:
        assert await credentials.rotate_encryption(connection, rotating, actor="test") == 2
        assert await credentials.rotate_encryption(connection, rotating, actor="test") == 0

    new_only = SecretBox(KeyRing.parse(new))
    async with database.transaction() as connection:
        secrets = await credentials.load_secrets(connection, new_only, credential)
        info = await credentials.get_credential(connection, new_only, credential)
    assert (secrets.client_id, secrets.client_secret) == (
        "cid.abcdef123456",
        "cs1.topsecretvalue",
    )
    assert "topsecretvalue" not in repr(secrets)
    assert info.client_id_masked == "cid.…3456"

    async with database.transaction() as connection:
        with pytest.raises(DecryptionError, match=f"credential {credential}"):
            await credentials.load_secrets(connection, old_box, credential)
