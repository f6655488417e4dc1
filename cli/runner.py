"""Running an async command body with one-line errors and the right exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from cli.context import CommandContext
from cli.output import CliError, report_error
from core.crypto import DecryptionError, EncryptionKeyError
from core.logging import configure_logging
from core.settings import ConfigurationError
from core.temporal import TemporalUnavailableError
from db.credentials import ConflictError, NotFoundError
from db.migrate import SchemaOutOfDateError
from services.errors import ServiceError

T = TypeVar("T")

# Errors whose message is already the whole story for the operator.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ConfigurationError,
    ServiceError,
    NotFoundError,
    ConflictError,
    ValueError,
    DecryptionError,
    EncryptionKeyError,
    SchemaOutOfDateError,
    TemporalUnavailableError,
    TimeoutError,
)


def run_command(json_output: bool, body: Callable[[CommandContext], Awaitable[T]]) -> T:
    """Build a context, run ``body``, close the context; errors become one line on stderr."""
    configure_logging("WARNING", "console")

    async def main() -> T:
        context = CommandContext(json_output=json_output)
        try:
            return await body(context)
        finally:
            await context.close()

    try:
        return asyncio.run(main())
    except typer.Exit:
        raise  # a deliberate exit code (e.g. `alerts` found something)
    except CliError as error:
        report_error(str(error))
        raise typer.Exit(error.code) from None
    except EXPECTED_ERRORS as error:
        report_error(str(error))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        report_error("interrupted")
        raise typer.Exit(130) from None
    except Exception as error:  # the last net: never a traceback for an operator
        report_error(f"unexpected {type(error).__name__}: {error}")
        raise typer.Exit(1) from None
