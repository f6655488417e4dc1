"""Encryption at rest for client ids, client secrets and access tokens, bound to their place.

Each value is sealed with AES-256-GCM (``cryptography``'s AESGCM) under associated data that
names where it is stored, ``<table>:<row id>:<column>`` (``aad_for``). A ciphertext copied to
another credential or another column, or altered, fails authentication there instead of
decrypting, so write access to the table without the key cannot make credential B use A's
secret. The envelope is ``gcm1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``: a format
version, then the id of the key that sealed it, so decryption picks the key directly.

Keys (``CREDENTIAL_ENCRYPTION_KEYS``, newest first) are 32 random bytes, url-safe base64 —
the format Fernet keys have, so the keys of earlier releases stay valid. The AES key and the
key id are derived from each key with HKDF-SHA256 (distinct labels), never used raw: the same
key string also opens the Fernet values earlier releases wrote, which only migration 0003 reads
(``decrypt_fernet``) and its downgrade writes (``encrypt_fernet``); at run time a Fernet value
is refused.

Rotation: the first key encrypts, every key decrypts, ``rotate`` re-seals a value under the
first key. Roll a new key out in the three steps of docs/operations.md §7 (add it at the end
everywhere, then move it to the front everywhere, then ``starter.py keys rotate`` and drop
the old one), so no process ever meets a value sealed with a key it does not have.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.logging import get_logger
from core.redact import register_secret

log = get_logger(__name__)

DEV_KEY_FILENAME = "dev-encryption.key"
ENVELOPE_PREFIX = "gcm1"
"""Version of the envelope format; a later format gets a new prefix."""
KEY_BYTES = 32
NONCE_BYTES = 12
_AES_KEY_LABEL = b"servicetitan-sync credential encryption: aes-256-gcm v1"
_KEY_ID_LABEL = b"servicetitan-sync credential encryption: key id v1"


class EncryptionKeyError(Exception):
    """The configured keys are unusable (missing, wrong format, empty)."""


class DecryptionError(Exception):
    """A stored ciphertext that cannot be opened here. The message names what it was."""


def aad_for(table: str, row_id: int, column: str) -> str:
    """The associated data binding a value to its place: ``servicetitan_credentials:7:secret``."""
    return f"{table}:{row_id}:{column}"


def _derive(key: bytes, label: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(key)


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


@dataclass(frozen=True)
class KeyRing:
    """The configured keys, newest first. Never printed: ``repr`` shows only a count."""

    keys: tuple[bytes, ...]
    key_ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        ids = tuple(_derive(key, _KEY_ID_LABEL, 4).hex() for key in self.keys)
        object.__setattr__(self, "key_ids", ids)

    def __repr__(self) -> str:
        return f"KeyRing({len(self.keys)} keys)"

    @classmethod
    def parse(cls, text: str, *, source: str = "CREDENTIAL_ENCRYPTION_KEYS") -> KeyRing:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise EncryptionKeyError(f"{source}: no key given")
        keys = []
        for position, part in enumerate(parts, start=1):
            register_secret(part, pinned=True)
            try:
                key = _b64decode(part)
            except (ValueError, binascii.Error):
                key = b""
            if len(key) != KEY_BYTES:
                raise EncryptionKeyError(
                    f"{source}: key #{position} is not a key (32 random bytes, url-safe "
                    "base64; make one with `python starter.py keys generate`)"
                ) from None
            keys.append(key)
        return cls(tuple(keys))


class SecretBox:
    """Seals and opens short secrets with a key ring, each bound to its place (``aad``).

    Every plaintext it seals or opens is registered with the redactor (``core.redact``), so
    it is scrubbed from logs, error messages and CLI output whatever text carries it.
    """

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._aead = {
            key_id: AESGCM(_derive(key, _AES_KEY_LABEL, KEY_BYTES))
            for key_id, key in zip(ring.key_ids, ring.keys, strict=True)
        }
        self._newest = ring.key_ids[0]

    def __repr__(self) -> str:
        return f"SecretBox({self._ring!r})"

    def encrypt(self, plaintext: str, *, aad: str) -> str:
        register_secret(plaintext)
        nonce = os.urandom(NONCE_BYTES)
        header = f"{ENVELOPE_PREFIX}.{self._newest}"
        sealed = self._aead[self._newest].encrypt(
            nonce, plaintext.encode(), self._associated(header, aad)
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{header}.{payload}"

    def decrypt(self, ciphertext: str, *, aad: str, what: str) -> str:
        """Open a value stored at ``aad``, or raise DecryptionError naming ``what``
        ("client_secret of credential 7") and the likely cause."""
        version, key_id, payload = self._split(ciphertext, what)
        aead = self._aead.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"cannot decrypt the {what}: it was encrypted with a key (id {key_id}) that is "
                "not in CREDENTIAL_ENCRYPTION_KEYS (was a key removed before `keys rotate` ran?)"
            )
        try:
            raw = _b64decode(payload)
            plaintext = aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._associated(f"{version}.{key_id}", aad)
            ).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"cannot decrypt the {what}: the stored value does not belong there (copied "
                "from another row or column, or altered)"
            ) from None
        register_secret(plaintext)
        return plaintext

    def rotate(self, ciphertext: str, *, aad: str, what: str) -> str:
        """Re-encrypt under the newest key (in effect a no-op when it already is)."""
        return self.encrypt(self.decrypt(ciphertext, aad=aad, what=what), aad=aad)

    def is_current(self, ciphertext: str) -> bool:
        """True when ``ciphertext`` is in the current format, sealed with the newest key."""
        return ciphertext.startswith(f"{ENVELOPE_PREFIX}.{self._newest}.")

    # --- the Fernet format of earlier releases: migration 0003 only ------------------------

    def decrypt_fernet(self, token: str, *, what: str) -> str:
        """Open a value an earlier release wrote (Fernet, not bound to its place)."""
        fernet = MultiFernet([Fernet(base64.urlsafe_b64encode(key)) for key in self._ring.keys])
        try:
            plaintext = fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise DecryptionError(
                f"cannot decrypt the {what}: none of the configured CREDENTIAL_ENCRYPTION_KEYS "
                "opens it (is this the key the workers were using?)"
            ) from None
        register_secret(plaintext)
        return plaintext

    def encrypt_fernet(self, plaintext: str) -> str:
        """Seal a value in the earlier releases' format, with the newest key (downgrade)."""
        return (
            Fernet(base64.urlsafe_b64encode(self._ring.keys[0]))
            .encrypt(plaintext.encode())
            .decode()
        )

    @staticmethod
    def _associated(header: str, aad: str) -> bytes:
        return f"{header}\n{aad}".encode()

    @staticmethod
    def _split(ciphertext: str, what: str) -> tuple[str, str, str]:
        parts = ciphertext.split(".")
        if len(parts) == 3 and parts[0] == ENVELOPE_PREFIX:
            return parts[0], parts[1], parts[2]
        if ciphertext.startswith("gAAAAA"):
            raise DecryptionError(
                f"cannot decrypt the {what}: it is still in the format of an earlier release "
                "(run `python starter.py db upgrade`)"
            )
        raise DecryptionError(f"cannot decrypt the {what}: the stored value is not a ciphertext")


def generate_key() -> str:
    """A new key: 32 random bytes, url-safe base64 (44 characters)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def dev_key_path(data_dir: Path) -> Path:
    return data_dir / DEV_KEY_FILENAME


def load_dev_key(data_dir: Path) -> KeyRing | None:
    """The development key under ``data_dir``, or None when there is none (never creates one)."""
    path = dev_key_path(data_dir)
    if not path.exists():
        return None
    return KeyRing.parse(path.read_text(), source=str(path))


def load_or_create_dev_key(data_dir: Path) -> KeyRing:
    """The development key under ``data_dir``, created (mode 0600) on first use, loudly.

    Only for the fully embedded mode (no DATABASE_URL, no TEMPORAL_ADDRESS): the settings
    refuse a configured deployment without CREDENTIAL_ENCRYPTION_KEYS, so a container never
    gets here and never invents a key that dies with it.
    """
    path = dev_key_path(data_dir)
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
    """The SecretBox the process uses: configured keys, or (embedded mode) the development key."""
    ring = (
        KeyRing.parse(configured_keys)
        if configured_keys is not None
        else load_or_create_dev_key(data_dir)
    )
    return SecretBox(ring)
