"""Cheap checks on raw JSON values: the fast path of the record maps.

Validating a record with pydantic costs more than everything else the pipeline does together,
and almost every record is plainly well-formed. The ``map_raw_*`` functions therefore read the
few fields they map straight from the parsed JSON, checking each value with the helpers below.
The helpers accept only what the ``*MappedFields`` models in ``servicetitan.models`` accept,
with the same converters (``parse_timestamp``, ``parse_decimal``), and raise ``Unusual`` for
anything else, upon which the caller validates the record with the model instead. So the fast
path may decline a record the model would accept, but never accepts a record the model would
reject or produce a different value; ``tests/records/test_fast_path.py`` checks that.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError

from servicetitan.models import INT64_MAX, INT64_MIN, parse_decimal, parse_timestamp


class Unusual(Exception):
    """The value is not plainly valid; validate the record with its model instead."""


def record_id(value: Any) -> int:
    """A record's own id: a JSON integer in 1..2^63-1."""
    if type(value) is int and 0 < value <= INT64_MAX:
        return value
    raise Unusual


def optional_int64(value: Any) -> int | None:
    if value is None or (type(value) is int and INT64_MIN <= value <= INT64_MAX):
        return value
    raise Unusual


def optional_float(value: Any) -> float | None:
    """A JSON number as pydantic's strict ``float`` takes it (an int is accepted as well)."""
    if value is None or type(value) is float or type(value) is int:
        return value
    raise Unusual


def optional_text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise Unusual


def optional_bool(value: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise Unusual


def optional_object(value: Any) -> dict[str, Any] | None:
    if value is None or type(value) is dict:
        return value
    raise Unusual


def optional_timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except PydanticCustomError:
        raise Unusual from None


def optional_money(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_decimal(value)
    except PydanticCustomError:
        raise Unusual from None
