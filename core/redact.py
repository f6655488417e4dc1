"""Remove secrets from anything about to be shown to a human or written to a log.

Three nets, because a secret can arrive any way: by the *name* it is stored under (a log
field called ``client_secret``), by its *shape* inside free text (an ``Authorization: Bearer …``
header, a JWT, a ciphertext, a form body, a URL with a password), and by its *value*. Every
secret the process decrypts or receives — client ids and secrets, access tokens, encryption
keys, the app key, database passwords — is registered here (``register_secret``) and scrubbed
from any text, whatever surrounds it, also percent- or JSON-encoded. All three are cheap
enough to run on every log line.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from structlog.typing import EventDict

REDACTED = "[REDACTED]"

MIN_SECRET_LENGTH = 8
"""Shorter values are not registered: scrubbing "abc" from every line would garble logs, and
no real secret is that short."""
MAX_REGISTERED = 4096
"""Secrets registered on the way (tokens, client secrets) beyond this push out the oldest;
configured ones (keys, app key, passwords) are kept for the life of the process."""

# Field names whose values are secret whatever they look like.
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|authorization|api[_-]?key|app[_-]?key|encryption[_-]?key"
    r"|private[_-]?key|credential_encryption_keys|database_url|dsn|cookie)",
    re.IGNORECASE,
)
# Field names that contain a secret-looking word but are safe and useful to see.
_SAFE_KEYS = frozenset(
    {
        "token_expires_at",
        "token_type",
        "expires_in",
        "has_token",
        "token_refreshes",
        "tokens_dropped",
        "secret_version",
        "continue_from",
    }
)

_PAIR_KEYS = (
    r"client[_-]?secret|secret|access[_-]?token|refresh[_-]?token|id[_-]?token|password|passwd"
    r"|pwd|api[_-]?key|app[_-]?key|st-app-key|authorization"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and "Bearer <token>" anywhere in text.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # JWTs (three base64url parts, header starts with eyJ).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), REDACTED),
    # Fernet tokens (version byte 0x80 → 'gAAAAA') and core.crypto's AES-GCM envelopes.
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-]{20,}=*"), REDACTED),
    (re.compile(r"\bgcm1\.[0-9a-f]{8}\.[A-Za-z0-9_\-]{20,}"), REDACTED),
    # key=value / "key": "value" pairs in URLs, form bodies, JSON and reprs; snake_case,
    # kebab-case and camelCase names (clientSecret, accessToken).
    (
        re.compile(
            rf"(?i)((?<![A-Za-z0-9])[\"']?(?:{_PAIR_KEYS})[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,}}]+)"
        ),
        r"\1" + REDACTED,
    ),
    # ServiceTitan secret formats: client secrets cs1./cs2.…, app keys ak1.…
    (re.compile(r"\b(cs\d|ak\d)\.[A-Za-z0-9_\-]{4,}"), r"\1." + REDACTED),
    # Passwords inside URLs: scheme://user:password@host (the password may hold '/' or '@').
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@\"'<>]*:)[^\s\"'<>]+@"),
        r"\1" + REDACTED + "@",
    ),
)


class _Registry:
    """The process's known secret values, indexed by their first characters for a fast scan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        self._recent: dict[str, None] = {}  # insertion-ordered: the oldest is evicted first
        self._index: dict[str, tuple[str, ...]] = {}

    def add(self, value: str, *, pinned: bool) -> None:
        forms = {
            form
            for form in (value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1])
            if len(form) >= MIN_SECRET_LENGTH
        }
        with self._lock:
            new = [f for f in forms if f not in self._pinned and f not in self._recent]
            for form in forms:  # a known value still in use moves to the end: evicted last
                self._recent.pop(form, None)
                if pinned:
                    self._pinned.add(form)
                elif form not in self._pinned:
                    self._recent[form] = None
            if not new:  # the same values as before: the index stands (the common case)
                return
            while len(self._recent) > MAX_REGISTERED:
                del self._recent[next(iter(self._recent))]
            self._index = self._build(self._pinned | self._recent.keys())

    @staticmethod
    def _build(values: Iterable[str]) -> dict[str, tuple[str, ...]]:
        index: dict[str, list[str]] = {}
        for value in values:
            index.setdefault(value[:MIN_SECRET_LENGTH], []).append(value)
        return {head: tuple(sorted(found, key=len, reverse=True)) for head, found in index.items()}

    def scrub(self, text: str) -> str:
        index = self._index  # an immutable snapshot: no lock needed to read
        if not index or len(text) < MIN_SECRET_LENGTH:
            return text
        found: set[str] = set()
        for start in range(len(text) - MIN_SECRET_LENGTH + 1):
            candidates = index.get(text[start : start + MIN_SECRET_LENGTH])
            if candidates:
                found.update(c for c in candidates if text.startswith(c, start))
        for value in sorted(found, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text


_registry = _Registry()


def register_secret(value: str | None, *, pinned: bool = False) -> None:
    """Scrub ``value`` (and its percent- and JSON-encoded forms) from all text from now on.

    ``pinned`` for configured secrets that must never be evicted (keys, app key, passwords).
    Empty and short values are ignored.
    """
    if value and len(value) >= MIN_SECRET_LENGTH:
        _registry.add(value, pinned=pinned)


def scrub_secrets(text: str) -> str:
    """Replace every registered secret in ``text`` (by value only; see ``redact_text``)."""
    return _registry.scrub(text)


def redact_text(text: str) -> str:
    """Replace every registered secret and every secret-shaped fragment of ``text``."""
    text = _registry.scrub(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_key(key: str) -> bool:
    return key not in _SAFE_KEYS and bool(_SECRET_KEY.search(key))


def redact_value(value: Any) -> Any:
    """Redact inside strings and containers, keeping structure (for JSON logs)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_event(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the last line of defence before a log line is rendered."""
    for key in list(event_dict):
        if is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(event_dict[key])
    return event_dict
