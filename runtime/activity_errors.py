"""What an activity's failure may tell Temporal: a type and a parameter-free line, no values.

A failure's message, stack trace and causes are stored in the workflow's history and copied
into ``servicetitan_sync_logs.error_message`` and audit rows. An unexpected exception's
message can quote anything — SQLAlchemy and PostgreSQL quote the row they could not write
(customer names, addresses, ciphertexts) — so this worker interceptor turns every exception
that is not an ``ApplicationError`` into one of the same type, as retryable as before, whose
message names the error's type and, for database errors, the driver error class, SQLSTATE,
table, column and constraint — never a value. The full error goes to the worker log (which
redacts secrets). Errors whose messages were written for operators (ServiceTitan errors,
unknown ids, undecryptable secrets) keep them. ``ApplicationError``s keep their type,
retryability and delay; registered secrets and secret-shaped text are scrubbed from their
messages and details, and causes they carry are reduced the same way.

Cancellation and other ``BaseException``s pass through untouched.
"""

from __future__ import annotations

import errno
from concurrent.futures import BrokenExecutor
from typing import Any

import psycopg
import temporalio.exceptions
from sqlalchemy.exc import DBAPIError
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.crypto import DecryptionError, EncryptionKeyError
from core.logging import get_logger
from core.redact import redact_text, redact_value
from db.credentials import NotFoundError
from servicetitan.errors import ServiceTitanError

log = get_logger(__name__)

OPERATOR_MESSAGES: tuple[type[Exception], ...] = (
    DecryptionError,
    EncryptionKeyError,
    NotFoundError,
    ServiceTitanError,
)
"""Errors whose messages were written for operators and carry no record values."""
NON_RETRYABLE: tuple[type[Exception], ...] = (DecryptionError, EncryptionKeyError)
"""No retry fixes a key that does not open a value."""
PASS_THROUGH: tuple[type[BaseException], ...] = (
    temporalio.exceptions.CancelledError,
    BrokenExecutor,  # the SDK stops the worker on it: keep the type it checks for
)


class ActivityErrorInterceptor(Interceptor):
    """Registered on the worker (``runtime/worker.py``): reduces every activity failure."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ReducingInbound(next)


class _ReducingInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except PASS_THROUGH:
            raise
        except ApplicationError as error:
            reduced = _reduce_application_error(error)
            if reduced is error:
                raise
            raise reduced from reduced.__cause__
        except Exception as error:
            raise _reduce(error) from None


def _reduce(error: BaseException) -> ApplicationError:
    """Any exception as an ApplicationError that is safe to store in history."""
    if isinstance(error, ApplicationError):
        return _reduce_application_error(error)
    if isinstance(error, OPERATOR_MESSAGES):
        message = redact_text(str(error))
    else:
        _log_unexpected(error)
        message = f"unexpected {describe(error)}; the worker log has the details"
    return ApplicationError(
        message, type=type(error).__name__, non_retryable=isinstance(error, NON_RETRYABLE)
    )


def _reduce_application_error(error: ApplicationError) -> ApplicationError:
    """The same error when nothing in it needs hiding, else a scrubbed copy."""
    message = redact_text(error.message)
    details = tuple(redact_value(detail) for detail in error.details)
    cause = error.__cause__
    if cause is None and not error.__suppress_context__:
        cause = error.__context__
    reduced_cause = _reduce(cause) if cause is not None else None
    if message == error.message and details == tuple(error.details) and reduced_cause is cause:
        return error
    copy = ApplicationError(
        message,
        *details,
        type=error.type,
        non_retryable=error.non_retryable,
        next_retry_delay=error.next_retry_delay,
        category=error.category,
    ).with_traceback(error.__traceback__)
    copy.__cause__ = reduced_cause
    copy.__suppress_context__ = True
    return copy


def describe(error: BaseException) -> str:
    """``IntegrityError (psycopg.errors.CheckViolation, SQLSTATE 23514, table t, …)``: the
    error's type and what identifies it, from its attributes only, never its message."""
    facts: list[str] = []
    driver = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(driver, psycopg.Error):
        if driver is not error:
            facts.append(_qualified(driver))
        if driver.sqlstate:
            facts.append(f"SQLSTATE {driver.sqlstate}")
        diag = driver.diag
        for label, name in (
            ("table", diag.table_name),
            ("column", diag.column_name),
            ("constraint", diag.constraint_name),
        ):
            if name:
                facts.append(f"{label} {name}")
    elif isinstance(error, OSError) and isinstance(error.errno, int):
        facts.append(errno.errorcode.get(error.errno, f"errno {error.errno}"))
    described = type(error).__name__
    return f"{described} ({', '.join(facts)})" if facts else described


def _qualified(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def _log_unexpected(error: BaseException) -> None:
    info = activity.info() if activity.in_activity() else None
    log.warning(
        "activity failed with an unexpected error; Temporal gets its type only",
        activity=info.activity_type if info else None,
        attempt=info.attempt if info else None,
        workflow_id=info.workflow_id if info else None,
        error_type=type(error).__name__,
        exc_info=error,
    )
