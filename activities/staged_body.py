"""Staged page bodies are compressed by the worker (zlib level 1), not by PostgreSQL.

Why: a 2 MB export page stored as ``bytea`` is compressed by PostgreSQL's TOAST with pglz,
its only codec in many builds (the embedded one has no lz4). pglz took ~50 ms to store such a
page and ~28 ms to read it back, on a two-core machine the largest single cost of a page after
mapping. zlib level 1 compresses the same page to ~300 KB in ~15 ms, decompresses it in ~7 ms,
releases the GIL while it works (so it runs beside the event loop in a thread), and leaves
PostgreSQL a body that pglz gives up on after its first kilobyte: storing and reading it cost
~2 ms each.

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
