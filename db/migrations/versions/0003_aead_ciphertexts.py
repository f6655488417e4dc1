"""Credential ciphertexts: Fernet → AES-256-GCM bound to their row and column (core/crypto.py).

Re-encrypts every stored client id, client secret and cached access token, so it needs the
keys they were written with, read as the application reads them (CREDENTIAL_ENCRYPTION_KEYS,
or the development key of the fully embedded mode). Without usable keys it stops with one
line and changes nothing; on a database without credentials it needs no key. A cached token
no key opens is dropped (a new one is requested). The downgrade writes Fernet again, with the
newest key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from core.crypto import (
    ENVELOPE_PREFIX,
    DecryptionError,
    EncryptionKeyError,
    KeyRing,
    SecretBox,
    aad_for,
    load_dev_key,
)
from core.settings import ConfigurationError, load_settings

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "servicetitan_credentials"
SECRETS = ("client_id", "client_secret")
CACHED = "access_token"
COLUMNS = (*SECRETS, CACHED)
BOUND_COMMENT = "AES-256-GCM, bound to its row and column (core/crypto.py)"
FERNET_COMMENT = "Fernet-encrypted"


def _box(stored: int) -> SecretBox:
    """The key ring the application would use; never a newly invented development key."""
    needs = (
        f"migration 0003 re-encrypts the {stored} stored credentials and needs the keys they "
        "were written with"
    )
    try:
        settings = load_settings()
    except ConfigurationError as error:
        raise EncryptionKeyError(f"{needs}: {error}") from None
    keys = settings.credential_encryption_keys
    if keys is not None:
        return SecretBox(KeyRing.parse(keys.get_secret_value()))
    ring = load_dev_key(settings.data_dir)
    if ring is None:
        raise EncryptionKeyError(
            f"{needs}: CREDENTIAL_ENCRYPTION_KEYS is not set and there is no development key "
            f"under {settings.data_dir}; set CREDENTIAL_ENCRYPTION_KEYS to the workers' keys"
        )
    return SecretBox(ring)


def _rewrite(convert: Callable[[SecretBox, int, str, str], str]) -> None:
    """Every stored value through ``convert(box, id, column, value)``, row by row."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            f"SELECT id, client_id, client_secret, access_token FROM {TABLE} "  # noqa: S608
            "ORDER BY id FOR UPDATE"
        )
    ).all()
    if not rows:
        return
    box = _box(len(rows))
    for credential_id, *values in rows:
        new: dict[str, object] = {"id": credential_id}
        for column, value in zip(COLUMNS, values, strict=True):
            if value is None:
                new[column] = None
                continue
            try:
                new[column] = convert(box, credential_id, column, value)
            except DecryptionError:
                if column != CACHED:
                    raise
                new[column] = None  # disposable: a new token is requested
        new["drop_expiry"] = new[CACHED] is None
        bind.execute(
            sa.text(
                f"UPDATE {TABLE} SET client_id = :client_id, "  # noqa: S608
                "client_secret = :client_secret, access_token = :access_token, "
                "token_expires_at = CASE WHEN :drop_expiry THEN NULL ELSE token_expires_at END "
                "WHERE id = :id"
            ),
            new,
        )


def _what(credential_id: int, column: str) -> str:
    return f"{column} of credential {credential_id}"


def _to_bound(box: SecretBox, credential_id: int, column: str, value: str) -> str:
    aad = aad_for(TABLE, credential_id, column)
    what = _what(credential_id, column)
    if value.startswith(f"{ENVELOPE_PREFIX}."):
        return box.rotate(value, aad=aad, what=what)
    return box.encrypt(box.decrypt_fernet(value, what=what), aad=aad)


def _to_fernet(box: SecretBox, credential_id: int, column: str, value: str) -> str:
    what = _what(credential_id, column)
    if not value.startswith(f"{ENVELOPE_PREFIX}."):
        return box.encrypt_fernet(box.decrypt_fernet(value, what=what))
    aad = aad_for(TABLE, credential_id, column)
    return box.encrypt_fernet(box.decrypt(value, aad=aad, what=what))


def _comment(comment: str, before: str) -> None:
    for column in COLUMNS:
        op.alter_column(
            TABLE,
            column,
            existing_type=sa.Text(),
            existing_nullable=column == CACHED,
            comment=comment,
            existing_comment=before,
        )


def upgrade() -> None:
    _rewrite(_to_bound)
    _comment(BOUND_COMMENT, FERNET_COMMENT)


def downgrade() -> None:
    _rewrite(_to_fernet)
    _comment(FERNET_COMMENT, BOUND_COMMENT)
