"""Encryption at rest for client ids, client secrets and access tokens.

Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography`` library) authenticates every
ciphertext, so a tampered or foreign value is detected instead of decrypting to garbage.
``MultiFernet`` gives key rotation: the first configured key encrypts, every key decrypts, and
``rotate`` re-encrypts a value under the first key. Operators add a new key in front, run
``starter.py keys rotate``, then drop the old key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.logging import get_logger

log = get_logger(__name__)

DEV_KEY_FILENAME = "dev-encryption.key"


class EncryptionKeyError(Exception):
    """The configured keys are unusable (wrong format, empty)."""


class DecryptionError(Exception):
    """A stored ciphertext that no configured key opens. The message names what it was."""


@dataclass(frozen=True)
class KeyRing:
    """The configured keys, newest first. Never printed: ``repr`` shows only a count."""

    keys: tuple[bytes, ...]

    def __repr__(self) -> str:
        return f"KeyRing({len(self.keys)} keys)"

    @classmethod
    def parse(cls, text: str, *, source: str = "CREDENTIAL_ENCRYPTION_KEYS") -> KeyRing:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise EncryptionKeyError(f"{source}: no key given")
        for position, part in enumerate(parts, start=1):
            try:
                Fernet(part.encode())
            except (ValueError, TypeError):
                raise EncryptionKeyError(
                    f"{source}: key #{position} is not a Fernet key (32 url-safe base64 bytes; "
                    "make one with `python starter.py keys generate`)"
                ) from None
        return cls(tuple(part.encode() for part in parts))


class SecretBox:
    """Encrypts and decrypts short secrets with a key ring."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._fernet = MultiFernet([Fernet(key) for key in ring.keys])
        self._newest = Fernet(ring.keys[0])

    def __repr__(self) -> str:
        return f"SecretBox({self._ring!r})"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str, *, what: str) -> str:
        """Decrypt, or raise DecryptionError naming ``what`` ("client_secret of credential 7")."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise DecryptionError(
                f"cannot decrypt the {what}: none of the configured CREDENTIAL_ENCRYPTION_KEYS "
                "opens it (was a key removed before `keys rotate` ran?)"
            ) from None

    def rotate(self, ciphertext: str, *, what: str) -> str:
        """Re-encrypt under the newest key (a no-op in effect when it already is)."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise DecryptionError(
                f"cannot rotate the {what}: none of the configured keys opens it"
            ) from None

    def is_current(self, ciphertext: str) -> bool:
        """True when the newest key already opens ``ciphertext``."""
        try:
            self._newest.decrypt(ciphertext.encode())
        except (InvalidToken, ValueError, TypeError):
            return False
        return True


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_dev_key(data_dir: Path) -> KeyRing:
    """The development key under ``data_dir``, created (mode 0600) on first use, loudly."""
    path = data_dir / DEV_KEY_FILENAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        log.warning(
            "generated a DEVELOPMENT encryption key; set CREDENTIAL_ENCRYPTION_KEYS in production",
            key_file=str(path),
        )
    else:
        log.warning(
            "using the DEVELOPMENT encryption key; set CREDENTIAL_ENCRYPTION_KEYS in production",
            key_file=str(path),
        )
    return KeyRing.parse(path.read_text(), source=str(path))


def secret_box_from_settings(configured_keys: str | None, data_dir: Path) -> SecretBox:
    """The SecretBox the process uses: configured keys, or the development key."""
    ring = (
        KeyRing.parse(configured_keys)
        if configured_keys is not None
        else load_or_create_dev_key(data_dir)
    )
    return SecretBox(ring)
