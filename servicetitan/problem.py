"""RFC 7807 problem details, as ServiceTitan returns them (``ApiErrorResponse``).

The spec marks ``type, title, status, traceId, errors, data`` as required, but error bodies are
exactly where servers cut corners (proxies answer with HTML, gateways with plain text), so every
field is optional here and a body that is not a JSON object yields ``None`` rather than an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

_MAX_TEXT = 300


def _text(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value[:_MAX_TEXT]
    return None


@dataclass(frozen=True)
class ProblemDetails:
    """A parsed ``ApiErrorResponse``: what a caller needs to explain a rejected request."""

    status: int | None = None
    title: str | None = None
    type: str | None = None
    detail: str | None = None
    trace_id: str | None = None
    errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: bytes) -> ProblemDetails | None:
        """Parse a response body; None when it is not a JSON object."""
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(decoded, dict):
            return None
        return cls.from_mapping(decoded)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ProblemDetails:
        errors: dict[str, tuple[str, ...]] = {}
        raw_errors = raw.get("errors")
        if isinstance(raw_errors, Mapping):
            for name, messages in raw_errors.items():
                if isinstance(messages, list):
                    errors[str(name)] = tuple(str(m)[:_MAX_TEXT] for m in messages)
                elif messages is not None:
                    errors[str(name)] = (str(messages)[:_MAX_TEXT],)
        status = raw.get("status")
        data = raw.get("data")
        return cls(
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            title=_text(raw.get("title")),
            type=_text(raw.get("type")),
            detail=_text(raw.get("detail")),
            trace_id=_text(raw.get("traceId")),
            errors=errors,
            data=dict(data) if isinstance(data, Mapping) else {},
        )

    def summary(self) -> str:
        """One readable line: title, then each field's first messages, then the trace id."""
        parts: list[str] = []
        if self.title:
            parts.append(self.title.rstrip("."))
        if self.detail and self.detail != self.title:
            parts.append(self.detail.rstrip("."))
        for name, messages in list(self.errors.items())[:5]:
            parts.append(f"{name}: {'; '.join(messages[:3])}")
        text = ". ".join(parts) if parts else "no details given"
        if self.trace_id:
            text += f" (traceId {self.trace_id})"
        return text
