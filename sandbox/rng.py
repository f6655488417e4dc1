"""Deterministic, stateless randomness: every value is a pure function of integer keys.

Records are generated on demand from ``(seed, tenant, kind, index, version)``, never stored, so a
tenant of a million records costs no memory. ``random.Random`` would do, but seeding one per
record costs ~5 µs; a splitmix64 hash plus mixed-radix slicing costs well under 1 µs per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_SALT = 0x5EED5A17

T = TypeVar("T")


def mix64(x: int) -> int:
    """A well-mixed 64-bit value of ``x``.

    CPython's tuple hash (xxHash-style, in C) mixes as well as splitmix64 for our purposes and
    is 4–5x faster than doing splitmix64 with Python integers; it is deterministic for
    integers (``PYTHONHASHSEED`` only salts ``str``/``bytes``) and stable since Python 3.8.
    """
    return hash((x, _SALT)) & _MASK


def splitmix64(x: int) -> int:
    """splitmix64 finaliser (reference quality; used where speed does not matter)."""
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def hash_key(*parts: int) -> int:
    """Combine integer parts into one 64-bit key (order matters)."""
    h = 0x51A4D80C
    for p in parts:
        h = splitmix64(h ^ (p & _MASK))
    return h


def str_key(text: str) -> int:
    """A stable integer for a short label (``hash()`` is salted per process, so not that)."""
    h = 1469598103934665603
    for byte in text.encode():
        h = ((h ^ byte) * 1099511628211) & _MASK
    return h


class Draw:
    """A small stream of random choices derived from one key.

    Values are sliced off a 64-bit hash by mixed radix (``h % n``, ``h //= n``) and the hash is
    re-mixed when it runs low, so a record's dozens of choices cost a handful of hashes.
    """

    __slots__ = ("_counter", "_h", "_key")

    def __init__(self, key: int) -> None:
        self._key = key
        self._counter = 0
        self._h = mix64(key)

    def below(self, n: int) -> int:
        """Uniform-ish integer in ``[0, n)`` (bias < n / 2**32, irrelevant here)."""
        if n <= 1:
            return 0
        if self._h < (n << 32):
            self._counter += 1
            self._h = mix64(self._key ^ (self._counter * _GOLDEN & _MASK))
        r = self._h % n
        self._h //= n
        return r

    def chance(self, percent: float) -> bool:
        """True with the given probability in percent (resolution 0.01 %)."""
        return self.below(10000) < int(percent * 100)

    def pick(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]

    def between(self, lo: int, hi: int) -> int:
        """Integer in ``[lo, hi]`` inclusive."""
        return lo + self.below(hi - lo + 1)
