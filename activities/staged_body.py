"""Staged page bodies are compressed by the worker (zlib level 1), not by PostgreSQL.

Why: an export page stored as ``bytea`` is compressed by PostgreSQL's TOAST with pglz, its
only codec in many builds (the embedded one has no lz4), which is slow both ways. zlib level 1
is several times quicker, releases the GIL while it works (so it runs beside the event loop in
a thread), and leaves PostgreSQL a body that pglz gives up on after its first kilobyte, so
storing and reading it back cost little. ``bench/README.md`` has the figures.

The stored form is a marker plus the zlib stream. A JSON document never starts with a NUL
byte, so bodies staged by an older worker (plain JSON) still read back correctly.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Final

MARKER: Final = b"\x00zlib1\x00"
LEVEL: Final = 1
_THREAD_THRESHOLD: Final = 64 * 1024
"""Below this a thread hop costs more than it saves."""


def pack(raw: bytes) -> bytes:
    return MARKER + zlib.compress(raw, LEVEL)


def unpack(stored: bytes) -> bytes:
    if stored.startswith(MARKER):
        return zlib.decompress(memoryview(stored)[len(MARKER) :])
    return stored


async def pack_async(raw: bytes) -> bytes:
    if len(raw) < _THREAD_THRESHOLD:
        return pack(raw)
    return await asyncio.to_thread(pack, raw)


async def unpack_async(stored: bytes) -> bytes:
    if len(stored) < _THREAD_THRESHOLD // 4:
        return unpack(stored)
    return await asyncio.to_thread(unpack, stored)
