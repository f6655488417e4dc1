"""What an activity failure carries into Temporal history: a type and a parameter-free line.

Unexpected exceptions (a database error quoting the row it could not write, a KeyError naming
a customer) become an ``ApplicationError`` of the same type, as retryable as before, whose
message says what failed without any value; the full story goes to the worker log only.
SQLAlchemy engines hide statement parameters in their messages, too.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import structlog
import temporalio.exceptions
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from core.crypto import DecryptionError, generate_key
from core.redact import REDACTED, register_secret
from core.settings import load_settings
from db.database import Database
from db.engine import make_async_engine, make_sync_engine, sqlalchemy_url
from runtime.activity_errors import ActivityErrorInterceptor
from runtime.worker import build_worker, make_dependencies
from tests.support.processes import ROOT
from tests.sync.harness import sandbox_client_config

PII = "Jane PII-Canary Doe"


class _Raising(ActivityInboundInterceptor):
    """The innermost link: the activity itself, raising ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        raise self.error


async def _intercepted(error: BaseException) -> BaseException:
    inbound = ActivityErrorInterceptor().intercept_activity(_Raising(error))
    with pytest.raises(BaseException) as caught:
        await inbound.execute_activity(
            ExecuteActivityInput(fn=_intercepted, args=[], executor=None, headers={})
        )
    return caught.value


def _history_text(error: BaseException) -> str:
    """What Temporal would store: the failure, its stack trace and its causes."""
    failure = Failure()
    DataConverter.default.failure_converter.to_failure(
        error, DataConverter.default.payload_converter, failure
    )
    return str(failure)


def _check_violation(database_url: str) -> DBAPIError:
    """A real SQLAlchemy error quoting PII twice: in DETAIL and in the parameters."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE people (name text CONSTRAINT no_canary "
            "CHECK (position('Canary' in name) = 0))"
        )
    engine = create_engine(sqlalchemy_url(database_url))  # parameters shown: the worst case
    try:
        with engine.connect() as connection:
            connection.execute(text("INSERT INTO people VALUES (:name)"), {"name": PII})
    except DBAPIError as error:
        assert PII in str(error)
        return error
    finally:
        engine.dispose()
    raise AssertionError("the insert should have failed")


async def test_a_database_error_becomes_its_type_and_sqlstate_without_values(
    database_url: str,
) -> None:
    original = _check_violation(database_url)
    with structlog.testing.capture_logs() as logs:
        error = await _intercepted(original)
    assert isinstance(error, ApplicationError)
    assert error.type == "IntegrityError"
    assert not error.non_retryable  # unexpected errors stay retryable
    assert PII not in error.message and "INSERT" not in error.message
    for fragment in ("IntegrityError", "CheckViolation", "23514", "people", "no_canary"):
        assert fragment in error.message, error.message
    assert error.__cause__ is None and error.__suppress_context__
    assert PII not in _history_text(error)
    # The worker log has the whole story (redacted by shape and value, not of PII).
    (event,) = [e for e in logs if e.get("error_type") == "IntegrityError"]
    assert event["exc_info"] is original


async def test_any_other_unexpected_error_keeps_its_type_and_loses_its_message() -> None:
    error = await _intercepted(KeyError(PII))
    assert isinstance(error, ApplicationError)
    assert error.type == "KeyError" and not error.non_retryable
    assert PII not in _history_text(error)
    errno = await _intercepted(ConnectionRefusedError(111, f"refused for {PII}"))
    assert isinstance(errno, ApplicationError) and errno.type == "ConnectionRefusedError"
    assert "ECONNREFUSED" in errno.message and PII not in errno.message


async def test_a_decryption_error_is_non_retryable_and_keeps_its_operator_message() -> None:
    error = await _intercepted(DecryptionError("cannot decrypt the client_secret of credential 3"))
    assert isinstance(error, ApplicationError)
    assert error.type == "DecryptionError" and error.non_retryable
    assert "client_secret of credential 3" in error.message


async def test_application_errors_keep_their_semantics_and_lose_registered_secrets() -> None:
    secret = "opaque-" + generate_key()[:16]
    register_secret(secret)
    raised = ApplicationError(
        f"ServiceTitan said {secret}",
        {"note": f"detail {secret}"},
        type="RateLimited",
        non_retryable=False,
        next_retry_delay=timedelta(seconds=7),
    )
    error = await _intercepted(raised)
    assert isinstance(error, ApplicationError)
    assert (error.type, error.non_retryable, error.next_retry_delay) == (
        "RateLimited",
        False,
        timedelta(seconds=7),
    )
    assert secret not in _history_text(error) and REDACTED in error.message
    assert error.details == ({"note": f"detail {REDACTED}"},)
    clean = ApplicationError("nothing to hide", type="NotFound", non_retryable=True)
    assert await _intercepted(clean) is clean  # untouched when there is nothing to change


async def test_an_application_error_raised_while_handling_a_database_error_drops_its_values(
    database_url: str,
) -> None:
    original = _check_violation(database_url)
    try:
        try:
            raise original
        except DBAPIError:
            raise ApplicationError("page could not be stored", type="Whatever") from None
    except ApplicationError as suppressed:
        assert await _intercepted(suppressed) is suppressed
    try:
        try:
            raise original
        except DBAPIError as cause:
            raise ApplicationError("page could not be stored", type="Whatever") from cause
    except ApplicationError as chained:
        assert PII in _history_text(chained)
        error = await _intercepted(chained)
    assert isinstance(error, ApplicationError) and error.type == "Whatever"
    assert PII not in _history_text(error)
    assert isinstance(error.__cause__, ApplicationError)
    assert error.__cause__.type == "IntegrityError"


@pytest.mark.parametrize(
    "make",
    [asyncio.CancelledError, lambda: temporalio.exceptions.CancelledError("Cancelled")],
)
async def test_cancellation_passes_through_untouched(make: Callable[[], BaseException]) -> None:
    cancelled = make()
    assert await _intercepted(cancelled) is cancelled


# --- engines ------------------------------------------------------------------------------------


def test_every_engine_hides_statement_parameters(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as caught:
            connection.execute(text("SELECT 1 / 0 WHERE :name <> ''"), {"name": PII})
    finally:
        engine.dispose()
    assert PII not in str(caught.value)
    assert make_async_engine(database_url).sync_engine.hide_parameters


ENGINE_FACTORIES = {"create_engine", "create_async_engine", "engine_from_config"}
PRODUCT_PACKAGES = ("activities", "bench", "cli", "core", "db", "runtime", "sandbox", "workflows")


def test_no_engine_is_made_without_hide_parameters() -> None:
    """Every engine factory call in the product passes ``hide_parameters=True``."""
    calls = 0
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name not in ENGINE_FACTORIES:
                    continue
                calls += 1
                hidden = [
                    k
                    for k in node.keywords
                    if k.arg == "hide_parameters"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is True
                ]
                where = f"{Path(path).relative_to(ROOT)}:{node.lineno}"
                assert hidden, f"{where}: engine without hide_parameters=True"
    assert calls >= 3  # db/engine.py (2) and the migrations' env.py


# --- registration -----------------------------------------------------------------------------


async def test_the_worker_registers_the_interceptor(
    database: Database, temporal_client: Client, tmp_path: Path
) -> None:
    settings = load_settings(
        _env_file=None,
        database_url="postgresql://unused@127.0.0.1/unused",
        temporal_address="127.0.0.1:7233",
        credential_encryption_keys=generate_key(),
        data_dir=tmp_path,
    )
    deps = make_dependencies(settings, database, sandbox_client_config(), temporal_client)
    worker = build_worker(temporal_client, settings, deps, task_queue="never-polled")
    interceptors = worker.config().get("interceptors") or []
    assert any(isinstance(i, ActivityErrorInterceptor) for i in interceptors)
