"""The client's error hierarchy: few types, each telling the caller what to do next.

Callers (the Temporal activities) act on ``retryable`` and, for ``RateLimited``, on
``retry_after``; they never need to look at status codes or httpx exceptions. Messages are
built only from safe facts (tenant, endpoint, status, ServiceTitan's problem text), never from
request headers or bodies, so they can be logged and shown to operators as they are.

    ServiceTitanError                      retryable
    ├── CredentialsRejected                no    invalid_client, persistent 401/403
    ├── RateLimited                        yes   429, carries retry_after seconds
    ├── ServiceUnavailable                 yes   5xx, 408
    │   ├── RequestTimeout                 yes   connect/read/write/pool timeout
    │   ├── ConnectionFailed               yes   DNS, refused, reset, truncated transfer
    │   └── InvalidResponse                yes*  2xx body that is not the expected JSON
    ├── BadRequest                         no    400 (and other 4xx), carries ProblemDetails
    │   └── NotFound                       no    404
    └── (nothing else escapes the client)

    * not for a body the same request would bring back (``retryable=False``): larger than
      the size cap, nested too deeply to decode, a token lifetime no server means. A glitch in
      transit cuts a body short (retryable); these are what the server built, so repeating the
      call only repeats the download. Failing at once costs little: the next sync resumes from
      the stored cursor once the cause is fixed (or the cap raised).
"""

from __future__ import annotations

from servicetitan.problem import ProblemDetails


class ServiceTitanError(Exception):
    """Base of everything the client raises."""

    retryable: bool = False
    """Whether the same call may succeed later (a class default; ``InvalidResponse`` sets it
    per error)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        tenant_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.endpoint = endpoint
        self.tenant_id = tenant_id

    def __str__(self) -> str:
        return self.message


class CredentialsRejected(ServiceTitanError):
    """ServiceTitan will not accept this credential: fix it, do not retry.

    ``reason`` is short and machine-friendly (``invalid_client``, ``unauthorized``,
    ``forbidden`` …); the message is for humans.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int | None = None,
        endpoint: str | None = None,
        tenant_id: int | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, tenant_id=tenant_id)
        self.reason = reason


class RateLimited(ServiceTitanError):
    """429: wait ``retry_after`` seconds before the next call for this tenant."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int | None = 429,
        endpoint: str | None = None,
        tenant_id: int | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, tenant_id=tenant_id)
        self.retry_after = retry_after


class ServiceUnavailable(ServiceTitanError):
    """ServiceTitan could not answer properly right now; the same call may work later."""

    retryable = True


class RequestTimeout(ServiceUnavailable):
    """No answer within the configured timeout."""


class ConnectionFailed(ServiceUnavailable):
    """The connection could not be made or broke before the response was complete."""


class InvalidResponse(ServiceUnavailable):
    """A success status with a body that is not what the endpoint promises (e.g. truncated).

    ``retryable=False`` for a body that the same request would bring back unchanged.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        status: int | None = None,
        endpoint: str | None = None,
        tenant_id: int | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, tenant_id=tenant_id)
        self.retryable = retryable


class BadRequest(ServiceTitanError):
    """ServiceTitan refused the request itself; repeating it will not help."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        problem: ProblemDetails | None = None,
        status: int | None = 400,
        endpoint: str | None = None,
        tenant_id: int | None = None,
    ) -> None:
        super().__init__(message, status=status, endpoint=endpoint, tenant_id=tenant_id)
        self.problem = problem


class NotFound(BadRequest):
    """404: the tenant, endpoint or record does not exist."""
