"""Positions in an export feed, and the opaque ``continueFrom`` tokens that carry them.

A position means "strictly after the record whose (modifiedOn, key) is this pair", where the
key is the record id (or a synthetic key for injected records without one). Every record of a
feed has a distinct pair and the feed is sorted by it, so a consumer that stores a token and
comes back hours later gets exactly the records modified after it, including modifications
made in the meantime to records it had already passed.

Tokens are base64url of (format version, feed, modifiedOn ticks, key, CRC32) so consumers treat
them as opaque, as ServiceTitan asks; a corrupted or foreign-feed token is rejected instead of
silently restarting the export.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from typing import NamedTuple

from sandbox.timefmt import parse_timestamp

_FORMAT = struct.Struct(">BBqq")
_VERSION = 1
_FEEDS = {"invoices": 1, "customers": 2, "contacts": 3}

MIN_KEY = -1
MAX_KEY = (1 << 62) - 1


class Position(NamedTuple):
    """Strictly after ``(mod, key)`` in feed order."""

    mod: int
    key: int


START = Position(-(1 << 62), MIN_KEY)


class BadFrom(ValueError):
    """``from`` is neither a token of this feed nor a date."""


def at_or_after(ticks: int) -> Position:
    """The position before every record with ``modifiedOn >= ticks``."""
    return Position(ticks - 1, MAX_KEY)


def encode(feed: str, position: Position) -> str:
    body = _FORMAT.pack(_VERSION, _FEEDS[feed], position.mod, position.key)
    crc = zlib.crc32(body).to_bytes(4, "big")
    return base64.urlsafe_b64encode(body + crc).rstrip(b"=").decode("ascii")


def _decode(feed: str, token: str) -> Position | None:
    if len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _FORMAT.size + 4:
        return None
    body, crc = raw[:-4], raw[-4:]
    if zlib.crc32(body).to_bytes(4, "big") != crc:
        return None
    version, feed_code, mod, key = _FORMAT.unpack(body)
    if version != _VERSION or feed_code != _FEEDS[feed]:
        return None
    return Position(mod, key)


def parse_from(feed: str, value: str | None) -> Position:
    """Interpret the ``from`` query parameter of an export request.

    Empty or absent: the beginning. A token from ``continueFrom``: its position. A date or
    ISO timestamp: every record with ``modifiedOn`` at or after it (the docs: "date is
    referring to the modifiedOn field of the record").
    """
    if value is None or value.strip() == "":
        return START
    position = _decode(feed, value.strip())
    if position is not None:
        return position
    ticks = parse_timestamp(value)
    if ticks is not None:
        return at_or_after(ticks)
    raise BadFrom(value)
