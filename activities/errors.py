"""Translating the client's and the database's errors into Temporal retry behaviour.

The client knows nothing of Temporal; this is the one place that decides what a
``ServiceTitanError`` means for a retry: rejected credentials and bad requests end the run at
once, a 429 waits exactly ``Retry-After``, everything transient backs off. The messages were
written for operators (and carry no secret), so they are passed on unchanged.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from contracts.sync import ErrorType
from core.crypto import DecryptionError
from core.redact import redact_text
from db.credentials import NotFoundError
from servicetitan.errors import (
    BadRequest,
    CredentialsRejected,
    InvalidResponse,
    NotFound,
    RateLimited,
    ServiceTitanError,
)

MAX_SERVER_ERROR_DELAY_SECONDS = 60.0


def server_error_delay(consecutive_failures: int) -> timedelta:
    """Backoff for 5xx/timeouts: 1 s, 2 s, 4 s … capped at a minute.

    Counted over consecutive *server* failures only, not over all attempts: six 429s in a row
    must not turn the next 502 into Temporal's 64-second backoff for attempt seven.
    """
    exponent = max(consecutive_failures - 1, 0)
    return timedelta(seconds=min(2.0**exponent, MAX_SERVER_ERROR_DELAY_SECONDS))


def from_servicetitan(
    error: ServiceTitanError, *, consecutive_server_errors: int = 1
) -> ApplicationError:
    message = redact_text(str(error))
    if isinstance(error, CredentialsRejected):
        return ApplicationError(
            message, error.reason, type=ErrorType.CREDENTIALS_REJECTED, non_retryable=True
        )
    if isinstance(error, RateLimited):
        return ApplicationError(
            message,
            type=ErrorType.RATE_LIMITED,
            next_retry_delay=timedelta(seconds=max(error.retry_after, 0.1)),
        )
    if isinstance(error, NotFound):
        return ApplicationError(message, type=ErrorType.NOT_FOUND, non_retryable=True)
    if isinstance(error, BadRequest):
        return ApplicationError(message, type=ErrorType.BAD_REQUEST, non_retryable=True)
    if isinstance(error, InvalidResponse) and not error.retryable:
        # Too large, nested too deeply, an absurd token lifetime: what the server built, so
        # the same request would only bring it back.
        return ApplicationError(message, type=ErrorType.INVALID_RESPONSE, non_retryable=True)
    return ApplicationError(
        message,
        type=ErrorType.SERVICE_UNAVAILABLE,
        next_retry_delay=server_error_delay(consecutive_server_errors),
    )


def from_lookup(error: NotFoundError) -> ApplicationError:
    return ApplicationError(str(error), type=ErrorType.NOT_FOUND, non_retryable=True)


def from_decryption(error: DecryptionError) -> ApplicationError:
    return ApplicationError(str(error), type=ErrorType.DECRYPTION, non_retryable=True)
