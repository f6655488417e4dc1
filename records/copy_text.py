"""Rows as PostgreSQL ``COPY … FROM STDIN`` text, built without a database connection.

Why: the mapping of a page runs in a separate process (``activities/mapping_pool.py``) so the
worker's event loop is free for I/O. Sending the mapped rows back as Python objects would
cost as much pickling as the mapping saved; sending the bytes that ``COPY`` reads costs a copy.

The format is PostgreSQL's text format (https://www.postgresql.org/docs/16/sql-copy.html):
columns separated by a tab, rows ended by a newline, ``\\N`` for NULL, and backslash, tab,
newline and carriage return escaped with a backslash. Values are the types the record rows
hold: ``str``, ``int``, ``bool``, ``Decimal``, ``date``, ``datetime`` and ``None``; anything
else is refused, so a new column type cannot be written wrongly without a test failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

NULL: Final = "\\N"
_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class CopyBatch:
    """Up to a batch's worth of rows in COPY text format (UTF-8)."""

    data: bytes
    rows: int


def copy_value(value: Any) -> str:
    """One value as COPY text."""
    if value is None:
        return NULL
    kind = type(value)
    if kind is str:
        text: str = value
        return text.translate(_ESCAPES) if _needs_escape(text) else text
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is Decimal or kind is date or kind is datetime:
        return str(value)  # ISO 8601 for dates and times, with the offset when there is one
    raise TypeError(f"no COPY text form for {kind.__name__} values")


def _needs_escape(text: str) -> bool:
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def encode_rows(
    rows: Iterable[Sequence[Any]], *, prefix: Sequence[Any] = (), batch_size: int = 2000
) -> list[CopyBatch]:
    """``rows`` (each after ``prefix``) as COPY text, split into batches of ``batch_size``."""
    lead = "".join(copy_value(value) + "\t" for value in prefix)
    batches: list[CopyBatch] = []
    lines: list[str] = []
    for row in rows:
        lines.append(lead + "\t".join(map(copy_value, row)) + "\n")
        if len(lines) >= batch_size:
            batches.append(CopyBatch("".join(lines).encode(), len(lines)))
            lines = []
    if lines:
        batches.append(CopyBatch("".join(lines).encode(), len(lines)))
    return batches
