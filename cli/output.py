"""How commands talk to people and to scripts.

Human output goes through rich on stdout; ``--json`` prints exactly one JSON document on
stdout and nothing else there. Errors are one readable line on stderr and a non-zero exit —
never a traceback — and pass through the redactor like every log line. Every secret the
process knows (``core.redact.register_secret``) is scrubbed from all of it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.redact import redact_text, scrub_secrets


class _ScrubbingConsole(Console):
    """A console that scrubs registered secrets (``core.redact``) from every text it prints."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(scrub_secrets(o) if isinstance(o, str) else o for o in objects), **kwargs)


# Piped output (scripts, CI logs) gets wide tables instead of rich's 80-column default.
console = _ScrubbingConsole(
    highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200
)
errors = _ScrubbingConsole(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A failure to report as one line (exit code 1, or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


def report_error(message: str) -> None:
    """One line whatever the message holds: newlines collapsed, brackets shown as typed (a bad
    value like ``[/x]`` must not be read as rich markup)."""
    line = " ".join(redact_text(message).split())
    errors.print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    text = json.dumps(document, default=_default, ensure_ascii=False, indent=2)
    sys.stdout.write(scrub_secrets(text) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else scrub_secrets(str(cell)) for cell in row))
    console.print(grid)


def when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
