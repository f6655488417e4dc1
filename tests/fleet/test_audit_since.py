"""``audit --since`` takes a duration ago, a date (UTC midnight) or an ISO timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.audit import parse_since
from services.errors import Invalid

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_since_reads_durations_dates_and_timestamps() -> None:
    assert parse_since("24h", now=NOW) == NOW - timedelta(hours=24)
    assert parse_since(" 7d ", now=NOW) == NOW - timedelta(days=7)
    assert parse_since("2026-12-01", now=NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T08:30:00", now=NOW) == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert parse_since("2026-12-01T08:30:00+02:00") == datetime(2026, 12, 1, 8, 30, tzinfo=plus_two)
    with pytest.raises(Invalid, match="since must be a duration like 24h"):
        parse_since("yesterday")
