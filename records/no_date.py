""".NET's "no date": ``0001-01-01T00:00:00`` (``DateTime.MinValue``), sent for unset dates.

.NET services serialise an unset ``DateTime`` as its default value instead of ``null``, with
or without ``Z`` and fractional zeros. It never means a real moment: in a nullable date it is
stored as NULL without a warning, in a required one (``createdOn``) it makes the record a
reject (``records.validation``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

_ZERO: Final = timedelta(0)


def is_no_date(moment: datetime) -> bool:
    """``moment`` is exactly ``0001-01-01T00:00:00`` at UTC (or without an offset)."""
    return (
        moment.year == 1
        and moment.month == 1
        and moment.day == 1
        and moment.hour == 0
        and moment.minute == 0
        and moment.second == 0
        and moment.microsecond == 0
        and moment.utcoffset() in (None, _ZERO)
    )


def business_date(moment: datetime | None) -> date | None:
    """The calendar date as sent (in its offset), or ``None`` for none or .NET's "no date"."""
    if moment is None or (moment.year == 1 and is_no_date(moment)):
        return None
    return moment.date()
