"""Error bodies in the shape of the OpenAPI ``ApiErrorResponse`` (RFC 7807 ProblemDetails).

All six fields are present, as the schema requires: ``type``, ``title``, ``status``,
``traceId``, ``errors`` (field → messages) and ``data``.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
    502: "https://tools.ietf.org/html/rfc7231#section-6.6.3",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
    504: "https://tools.ietf.org/html/rfc7231#section-6.6.5",
}
_TITLES = {
    400: "One or more validation errors occurred.",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "An unexpected error occurred.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def trace_id() -> str:
    """W3C traceparent-style id, as ASP.NET puts in ``traceId``."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


def problem(
    status: int,
    title: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": _TYPES.get(status, "about:blank"),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "traceId": trace_id(),
        "errors": errors or {},
        "data": data or {},
    }


def problem_bytes(
    status: int,
    title: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    data: dict[str, Any] | None = None,
) -> bytes:
    return orjson.dumps(problem(status, title, errors=errors, data=data))


def rate_limit_title(seconds: int) -> str:
    """Parsed by servicepytan as ``int(title.split(" ")[-2])``; keep the number second-last."""
    return f"Rate limit is exceeded. Try again in {seconds} seconds."
