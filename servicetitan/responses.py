"""Turning httpx outcomes into the client's typed errors.

Kept apart from ``client.py`` because the token endpoint and the API endpoints share it. The
messages are assembled here from safe parts only: the endpoint label (a path, never a query
string with a secret or a header), the status, and ServiceTitan's problem text.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from servicetitan.errors import (
    BadRequest,
    ConnectionFailed,
    CredentialsRejected,
    InvalidResponse,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServiceTitanError,
    ServiceUnavailable,
)
from servicetitan.http import ResponseTooLarge
from servicetitan.problem import ProblemDetails

# "Rate limit is exceeded. Try again in 12 seconds." (Azure API Management wording).
_SECONDS_IN_TITLE = re.compile(r"(\d+(?:\.\d+)?)\s*seconds?", re.IGNORECASE)


class ResponseLike(Protocol):
    """What error mapping reads of a response: an ``httpx.Response`` or a ``Received``."""

    @property
    def status_code(self) -> int: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def headers(self) -> httpx.Headers: ...
    @property
    def content(self) -> bytes: ...


def where(endpoint: str, tenant_id: int | None) -> str:
    return f"{endpoint} (tenant {tenant_id})" if tenant_id is not None else endpoint


def parse_retry_after(
    value: str | None, *, now: float | None = None, problem: ProblemDetails | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    Falls back to a number of seconds quoted in the problem title. None when neither says.
    """
    if value:
        text = value.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            current = now if now is not None else time.time()
            return max(0.0, when.timestamp() - current)
    if problem is not None and problem.title:
        match = _SECONDS_IN_TITLE.search(problem.title)
        if match:
            return float(match.group(1))
    return None


def _problem(response: ResponseLike) -> ProblemDetails | None:
    return ProblemDetails.from_body(response.content)


def _reason_phrase(response: ResponseLike) -> str:
    return response.reason_phrase or f"HTTP {response.status_code}"


def error_for_status(
    response: ResponseLike,
    *,
    endpoint: str,
    tenant_id: int | None,
    default_retry_after: float,
    max_retry_after: float,
) -> ServiceTitanError:
    """The typed error for a non-success API response (after any 401 retry was spent)."""
    status = response.status_code
    problem = _problem(response)
    place = where(endpoint, tenant_id)
    detail = problem.summary() if problem else _reason_phrase(response)
    common: dict[str, Any] = {"status": status, "endpoint": endpoint, "tenant_id": tenant_id}

    if status == 429:
        delay = parse_retry_after(response.headers.get("Retry-After"), problem=problem)
        if delay is None:
            delay = default_retry_after
        delay = min(delay, max_retry_after)
        return RateLimited(
            f"ServiceTitan rate limit reached on {place}; retry after {delay:g} s",
            retry_after=delay,
            **common,
        )
    if status in (401, 403):
        reason = "unauthorized" if status == 401 else "forbidden"
        hint = (
            "the access token or the ST-App-Key was not accepted"
            if status == 401
            else "the app lacks a scope or is not connected to this tenant"
        )
        return CredentialsRejected(
            f"ServiceTitan refused access ({status} {reason}) on {place}: {hint}; {detail}",
            reason=reason,
            **common,
        )
    if status >= 500 or status == 408:
        return ServiceUnavailable(f"ServiceTitan answered {status} on {place}: {detail}", **common)
    if status == 404:
        return NotFound(
            f"ServiceTitan answered 404 not found on {place}: {detail}", problem=problem, **common
        )
    if 400 <= status < 500:
        return BadRequest(
            f"ServiceTitan rejected the request ({status}) on {place}: {detail}",
            problem=problem,
            **common,
        )
    return InvalidResponse(
        f"ServiceTitan answered an unexpected {status} on {place}: {detail}", **common
    )


def transport_error(
    exc: httpx.RequestError, *, endpoint: str, tenant_id: int | None
) -> ServiceTitanError:
    """The typed error for a request that got no (complete) response."""
    place = where(endpoint, tenant_id)
    text = str(exc).strip()[:200]
    kind = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(
            f"ServiceTitan did not answer in time on {place} ({kind})",
            endpoint=endpoint,
            tenant_id=tenant_id,
        )
    if isinstance(exc, httpx.DecodingError):
        return InvalidResponse(
            f"ServiceTitan sent an undecodable body on {place} ({kind})",
            endpoint=endpoint,
            tenant_id=tenant_id,
        )
    return ConnectionFailed(
        f"could not reach ServiceTitan on {place} ({kind})",
        endpoint=endpoint,
        tenant_id=tenant_id,
    )


def _size_text(limit: int) -> str:
    """``64 MiB``, ``16 KiB`` or ``1000 bytes``: the cap as an operator configured it."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def too_large(exc: ResponseTooLarge, *, endpoint: str, tenant_id: int | None) -> InvalidResponse:
    """The error for a body past the cap: not retryable, the same call brings it back."""
    return InvalidResponse(
        f"ServiceTitan's response on {where(endpoint, tenant_id)} is larger than "
        f"{_size_text(exc.limit)} once decompressed; reading stopped there "
        "(raise SERVICETITAN_MAX_RESPONSE_MB if such pages are expected)",
        retryable=False,
        status=exc.status,
        endpoint=endpoint,
        tenant_id=tenant_id,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
