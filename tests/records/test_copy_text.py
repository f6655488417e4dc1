"""COPY text built without a connection must load exactly what psycopg's own COPY loads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from records.copy_text import copy_value, encode_rows

COLUMNS = "t text, n bigint, b boolean, m numeric(18, 4), d date, ts timestamptz"
AWKWARD_TEXTS = [
    "plain",
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",  # the NULL marker as a value
    "\\.",  # the old end-of-data marker as a value
    "",
    "Ünïcødé — 北京 🙂",
    "trailing\\",
    "\b\f\v bell-ish controls",
]
ROWS: list[tuple[Any, ...]] = [
    (text, index, index % 2 == 0, Decimal("1234.5600"), date(2024, 2, 29), None)
    for index, text in enumerate(AWKWARD_TEXTS)
] + [
    (None, None, None, None, None, None),
    ("x", -(2**62), False, Decimal("-0.0001"), date(1900, 1, 1), datetime(2024, 1, 2, tzinfo=UTC)),
    (
        "y",
        0,
        True,
        Decimal("1E+2"),
        date(2200, 12, 31),
        datetime(2024, 6, 1, 12, 30, 45, 123456, tzinfo=timezone(timedelta(hours=-7))),
    ),
]


def _load(url: str, table: str, write: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        connection.execute(f"CREATE TABLE {table} (position serial, {COLUMNS})")
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} (t, n, b, m, d, ts) FROM STDIN") as copy,
        ):
            write(copy)
        return connection.execute(
            f"SELECT t, n, b, m, d, ts FROM {table} ORDER BY position"  # noqa: S608 (test tables)
        ).fetchall()


def test_encoded_rows_load_exactly_like_psycopg_rows(database_url: str) -> None:
    expected = _load(database_url, "by_psycopg", lambda copy: [copy.write_row(r) for r in ROWS])
    batches = encode_rows(ROWS, batch_size=4)
    assert [batch.rows for batch in batches] == [4, 4, 4, 2]
    ours = _load(database_url, "by_us", lambda copy: [copy.write(b.data) for b in batches])
    assert ours == expected
    assert len(ours) == len(ROWS)


def test_a_prefix_is_written_before_every_row(database_url: str) -> None:
    rows = [("a", 1), ("b", 2)]
    (batch,) = encode_rows([r[1:] for r in rows], prefix=("fixed",), batch_size=10)
    assert batch.data == b"fixed\t1\nfixed\t2\n"


def test_values_of_an_unknown_type_are_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        copy_value(1.5)
    with pytest.raises(TypeError, match="dict"):
        copy_value({"a": 1})
