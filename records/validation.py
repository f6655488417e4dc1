"""Field checks for mapped rows (the seed's validateFieldValues), and which of them reject.

A value that PostgreSQL cannot store faithfully, or that is absurd, is a problem. Nothing is
truncated, rounded or guessed. What a problem costs depends on its column:

- a problem in an **essential** column (``ESSENTIAL_COLUMNS``: the natural key, the ids that
  link a row to its customer, ``createdOn``/``modifiedOn`` that the cursor and the "older
  never overwrites newer" rule rely on, and an invoice's money) makes the record a **reject**,
  quarantined with its raw JSON;
- a problem in any other column is a **field warning**: that column is stored as NULL, the
  record lands, and the warning is kept (``records.pipeline.FieldWarning``).

Neither ever fails the sync. The rules:

=====================  ==========================================================================
values                 rule
=====================  ==========================================================================
every text column      no NUL (``\\x00``) and no unpaired surrogate: PostgreSQL text cannot hold
                       them; at most ``TEXT_LIMITS[column]`` characters
money (``Decimal``)    ``abs(value) < 1e13`` and at most 4 decimal places once trailing zeros are
                       dropped (``"1.50000"`` is fine, ``"0.00001"`` is not): fits NUMERIC(18, 4)
dates and timestamps   year 1900–2200. .NET's ``0001-01-01`` "no date" never reaches here in a
                       nullable date (``records.no_date``: it maps to NULL); in ``createdOn`` it
                       is named as such
ids                    positive (``invoice_number``, ``customer_id``, ``merged_to_id``,
                       ``contact_id``)
members                ``merged_to_id`` differs from the customer's own id
contacts               ``customer_id`` is present (a contact must belong to a customer)
=====================  ==========================================================================

``TEXT_LIMITS`` is the contract with the database schema: a column may be wider, never narrower.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final, TypeAlias, get_args, get_type_hints

from records.contact import ContactRecord
from records.invoice import InvoiceRecord
from records.member import MemberRecord
from records.no_date import is_no_date

Record: TypeAlias = InvoiceRecord | MemberRecord | ContactRecord

TEXT_LIMITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        # ids
        "invoice_number": 64,
        "customer_id": 64,
        "merged_to_id": 64,
        # names and the street: unbounded TEXT in the database; 500 guards against junk
        "customer_name": 500,
        "customer_first_name": 500,
        "customer_last_name": 500,
        "customer_address": 500,
        # the widths of the database's VARCHAR columns (db/schema.py)
        "reference_number": 255,
        "job_number": 255,
        "job_type": 255,
        "business_unit": 255,
        "customer_city": 255,
        "customer_state": 100,
        "customer_zip": 20,
        "customer_type": 50,
        "type": 50,
        # a contact value becomes members_stream.customer_phone_number_primary (255) or
        # customer_email (320); an email address cannot exceed 254 characters anyway
        "value": 255,
    }
)
"""Maximum characters per text column (PostgreSQL counts characters, as ``len`` does)."""

MONEY_LIMIT: Final = Decimal("1e13")
"""Money must be strictly smaller than this in absolute value."""

MONEY_MAX_PLACES: Final = 4
YEAR_MIN: Final = 1900
YEAR_MAX: Final = 2200

ESSENTIAL_COLUMNS: Final[Mapping[type, frozenset[str]]] = MappingProxyType(
    {
        InvoiceRecord: frozenset(
            {
                "invoice_number",
                "customer_id",
                "subtotal",
                "sales_tax",
                "total",
                "balance",
                "source_created_at",
                "source_modified_at",
            }
        ),
        MemberRecord: frozenset({"customer_id", "source_created_at", "source_modified_at"}),
        ContactRecord: frozenset({"contact_id", "customer_id", "source_modified_at"}),
    }
)
"""Per record type, the columns whose problems reject the record; any other column warns."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule a column breaks: the column, why, and the offending value."""

    column: str
    reason: str
    value: object

    @property
    def text(self) -> str:
        """``"column: reason"``, as reject reasons show it."""
        return f"{self.column}: {self.reason}"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MAX_SHOWN: Final = 40


def invoice_column_problems(record: InvoiceRecord) -> list[Problem]:
    """Every rule an invoice row breaks, per column; empty when valid."""
    problems = _column_problems(record)
    _check_id("invoice_number", record.invoice_number, problems)
    _check_id("customer_id", record.customer_id, problems)
    return problems


def member_column_problems(record: MemberRecord) -> list[Problem]:
    """Every rule a member row breaks, per column (see ``invoice_column_problems``)."""
    problems = _column_problems(record)
    _check_id("customer_id", record.customer_id, problems)
    _check_id("merged_to_id", record.merged_to_id, problems)
    if record.merged_to_id is not None and record.merged_to_id == record.customer_id:
        reason = f"equals the customer's own id ({record.customer_id!r})"
        problems.append(Problem("merged_to_id", reason, record.merged_to_id))
    return problems


def contact_column_problems(record: ContactRecord) -> list[Problem]:
    """Every rule a contact row breaks, per column (see ``invoice_column_problems``)."""
    problems = _column_problems(record)
    if record.contact_id <= 0:
        problems.append(
            Problem("contact_id", f"not a positive id ({record.contact_id})", record.contact_id)
        )
    if record.customer_id is None:
        problems.append(Problem("customer_id", "required", None))
    else:
        _check_id("customer_id", record.customer_id, problems)
    return problems


def is_essential(record_type: type, column: str) -> bool:
    """Whether a problem in ``column`` rejects a record of ``record_type`` (else it warns)."""
    return column in ESSENTIAL_COLUMNS[record_type]


def _column_problems(record: Record) -> list[Problem]:
    """The rules that depend only on a column's type: text, money, dates.

    Each kind is screened with cheap tests first; the per-column reporting below runs only
    when a screen trips (rarely), which keeps the common case fast.
    """
    kinds = _COLUMN_KINDS[type(record)]
    problems: list[Problem] = []
    texts = kinds.texts(record)
    for value, limit in zip(texts, kinds.text_limits, strict=True):
        if value is not None and len(value) > limit:
            _report_lengths(kinds.text_columns, texts, kinds.text_limits, problems)
            break
    if _UNSTORABLE.search("".join(filter(None, texts))) is not None:
        for column, text in zip(kinds.text_columns, texts, strict=True):
            _check_storable(column, text, problems)
    for column, amount in zip(kinds.money_columns, kinds.money(record), strict=True):
        if amount is not None and (
            amount >= MONEY_LIMIT or amount <= -MONEY_LIMIT or _exponent(amount) < -MONEY_MAX_PLACES
        ):
            _check_money(column, amount, problems)
    for column, moment in zip(kinds.date_columns, kinds.dates(record), strict=True):
        if moment is not None and not YEAR_MIN <= moment.year <= YEAR_MAX:
            problems.append(Problem(column, _date_reason(moment), moment))
    return problems


def _date_reason(moment: date) -> str:
    if isinstance(moment, datetime) and is_no_date(moment):
        return '.NET "no date" (0001-01-01T00:00:00) in a required date'
    return f"year {moment.year} outside {YEAR_MIN}-{YEAR_MAX}"


def _report_lengths(
    columns: tuple[str, ...],
    texts: tuple[str | None, ...],
    limits: tuple[int, ...],
    problems: list[Problem],
) -> None:
    for column, text, limit in zip(columns, texts, limits, strict=True):
        if text is not None and len(text) > limit:
            problems.append(Problem(column, f"{len(text)} characters, limit {limit}", text))


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _check_storable(column: str, value: str | None, problems: list[Problem]) -> None:
    found = _UNSTORABLE.search(value) if value else None
    if found is None:
        return
    character = found.group()
    if character == "\x00":
        problems.append(Problem(column, "contains a NUL character", value))
    else:
        reason = f"contains an unpaired surrogate (U+{ord(character):04X})"
        problems.append(Problem(column, reason, value))


def _check_money(column: str, value: Decimal, problems: list[Problem]) -> None:
    # Comparisons are exact; abs() and normalize() would round to the context's precision.
    if value >= MONEY_LIMIT or value <= -MONEY_LIMIT:
        problems.append(Problem(column, f"out of range ({_shortened(value)})", value))
    elif _decimal_places(value) > MONEY_MAX_PLACES:
        places = f"more than {MONEY_MAX_PLACES} decimal places"
        problems.append(Problem(column, f"{places} ({_shortened(value)})", value))


def _shortened(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _decimal_places(value: Decimal) -> int:
    """Digits after the point once trailing zeros are dropped ("1.2300" has 2)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    places = -exponent
    index = len(digits) - 1
    while places > 0 and index >= 0 and digits[index] == 0:
        places -= 1
        index -= 1
    return places if index >= 0 else 0  # all digits were zeros: the value is zero


def _is_positive_id(text: str) -> bool:
    """``text`` is ``str()`` of a positive integer (digits, no sign, no leading zero)."""
    return text.isascii() and text.isdigit() and text[0] != "0"


def _check_id(column: str, value: str | None, problems: list[Problem]) -> None:
    if value is not None and not _is_positive_id(value):
        problems.append(Problem(column, f"not a positive id ({value!r})", value))


@dataclass(frozen=True, slots=True)
class _ColumnKinds:
    """A record type's columns grouped by the rules that apply to them, with fast getters."""

    text_columns: tuple[str, ...]
    text_limits: tuple[int, ...]
    texts: Callable[[Any], tuple[str | None, ...]]
    money_columns: tuple[str, ...]
    money: Callable[[Any], tuple[Decimal | None, ...]]
    date_columns: tuple[str, ...]
    dates: Callable[[Any], tuple[date | None, ...]]


def _column_kinds(record_type: type[Record]) -> _ColumnKinds:
    hints = get_type_hints(record_type)
    columns = record_type.COLUMNS

    def of_kind(*kinds: type) -> tuple[str, ...]:
        """Columns typed as one of ``kinds``, alone or in a union with ``None``."""
        return tuple(
            column
            for column in columns
            if {hints[column], *get_args(hints[column])}.intersection(kinds)
        )

    texts = of_kind(str)
    money = of_kind(Decimal)
    dates = of_kind(date, datetime)
    return _ColumnKinds(
        text_columns=texts,
        text_limits=tuple(TEXT_LIMITS[column] for column in texts),
        texts=_tuple_getter(texts),
        money_columns=money,
        money=_tuple_getter(money),
        date_columns=dates,
        dates=_tuple_getter(dates),
    )


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter`` that returns a tuple for any number of names (it unwraps exactly one)."""
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda record: (single(record),)
    if not names:
        return lambda record: ()
    getter: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)
    return getter


_COLUMN_KINDS: Final[dict[type, _ColumnKinds]] = {
    record_type: _column_kinds(record_type)
    for record_type in (InvoiceRecord, MemberRecord, ContactRecord)
}
