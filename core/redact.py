"""Remove secrets from anything about to be shown to a human or written to a log.

Two nets, because a secret can arrive either way: by the *name* it is stored under (a log
field called ``client_secret``) or by its *shape* inside free text (an exception message that
quotes an ``Authorization: Bearer …`` header, a JWT, a Fernet token, a form body). Both are
cheap enough to run on every log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from structlog.typing import EventDict

REDACTED = "[REDACTED]"

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
        "secret_version",
        "continue_from",
    }
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and "Bearer <token>" anywhere in text.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # JWTs (three base64url parts, header starts with eyJ).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), REDACTED),
    # Fernet tokens (version byte 0x80 → 'gAAAAA').
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-]{20,}=*"), REDACTED),
    # key=value / "key": "value" pairs in URLs, form bodies, JSON and reprs.
    (
        re.compile(
            r"(?i)([\"']?(?:client_secret|access_token|refresh_token|password|api_key|"
            r"app_key|st-app-key|authorization)[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,}]+)"
        ),
        r"\1" + REDACTED,
    ),
    # ServiceTitan secret formats: client secrets cs1./cs2.…, app keys ak1.…
    (re.compile(r"\b(cs\d|ak\d)\.[A-Za-z0-9_\-]{4,}"), r"\1." + REDACTED),
    # Passwords inside URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)


def redact_text(text: str) -> str:
    """Replace every secret-shaped fragment of ``text``."""
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
