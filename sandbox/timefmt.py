"""Timestamps as .NET ticks (100 ns units since the Unix epoch) and their wire format.

ServiceTitan is a .NET service: its timestamps carry up to 7 fractional digits
(``2021-07-19T20:35:38.2876004Z``) and, like every .NET JSON serialiser's round-trip format,
drop trailing zeros of the fraction (``…:38.28Z``, ``…:38Z``). Keeping times as integer ticks
makes ordering exact and cheap; formatting is cached per day because it runs for every field of
every record served.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

TICKS_PER_SECOND = 10_000_000
TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_day_cache: dict[int, str] = {}


def _day_prefix(day: int) -> str:
    prefix = _day_cache.get(day)
    if prefix is None:
        prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        if len(_day_cache) > 100_000:
            _day_cache.clear()
        _day_cache[day] = prefix
    return prefix


_HOUR_MINUTE = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
_SECOND = [f"{s:02d}" for s in range(60)]


def format_ticks(ticks: int) -> str:
    """``2021-07-19T20:35:38.2876004Z``, trailing fractional zeros dropped as .NET does."""
    secs, frac = divmod(ticks, TICKS_PER_SECOND)
    day, second_of_day = divmod(secs, 86_400)
    prefix = _day_cache.get(day) or _day_prefix(day)
    minute, second = divmod(second_of_day, 60)
    if frac:
        return f"{prefix}{_HOUR_MINUTE[minute]}{_SECOND[second]}.{frac:07d}".rstrip("0") + "Z"
    return f"{prefix}{_HOUR_MINUTE[minute]}{_SECOND[second]}Z"


def format_date(ticks: int) -> str:
    """Midnight UTC of the tick's day, as invoice dates are served: ``2021-07-19T00:00:00Z``."""
    return f"{_day_prefix(ticks // TICKS_PER_DAY)}00:00:00Z"


def datetime_to_ticks(value: datetime) -> int:
    """Exact ticks of an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_timestamp(text: str) -> int | None:
    """Ticks for a date or ISO-8601 timestamp, or None when ``text`` is neither.

    Accepts what clients send as ``from``/``modifiedOnOrAfter``: ``2020-01-01``,
    ``2024-01-01T00:00:00Z``, ``2024-01-01T00:00:00.001000+00:00`` (MeltanoLabs' form) and
    7-digit fractions. A missing offset means UTC, as ServiceTitan documents ("in UTC").
    Fractions beyond 7 digits are truncated to ticks.
    """
    match = _ISO.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, offset = match.groups()
    try:
        base = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    ticks = datetime_to_ticks(base)
    if frac:
        ticks += int(frac[:7].ljust(7, "0"))
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
        ticks -= sign * minutes * 60 * TICKS_PER_SECOND
    return ticks
