"""The base record sequence of one kind in one tenant: ids and modification times by index.

A tenant's base data is a sequence ``0..count-1``. Both the id and ``modifiedOn`` of index ``i``
are pure functions of ``i`` and both are monotone in it, so the export order "by
(modifiedOn, id)" is simply index order, and finding where a continuation token points is a
binary search over a computed function — no table, no scan, any size.

Ids are strictly increasing with gaps (``base + stride*i + jitter``). ``modifiedOn`` is
non-decreasing with deliberate ties: a hash picks a few percent of indices to share their
predecessor's time, and ties are forced across every multiple of the export page size so a
consumer that resumes "after the last modifiedOn" instead of using the token loses records.
"""

from __future__ import annotations

from sandbox.rng import hash_key, mix64


class Timeline:
    """Non-decreasing ``modifiedOn`` ticks over indices, with ties.

    ``mod(i) = start + r*step + jitter(r)`` where ``r`` is the first index of ``i``'s tie run
    and ``jitter < step/2``; so untied indices are strictly increasing and tied runs share the
    time of their first member.
    """

    __slots__ = ("_jit_key", "_jit_range", "_period", "_start", "_step", "_tie_key", "_tie_pm")

    def __init__(
        self,
        key: int,
        count: int,
        start: int,
        end: int,
        *,
        tie_permille: int,
        page_period: int,
    ) -> None:
        self._start = start
        self._step = max((end - start) // max(count, 1), 4)
        self._jit_range = self._step // 2
        self._tie_key = hash_key(key, 1)
        self._jit_key = hash_key(key, 2)
        self._tie_pm = tie_permille
        self._period = page_period

    def tied(self, i: int) -> bool:
        """True when index ``i`` shares the modification time of index ``i - 1``."""
        if i <= 0:
            return False
        p = self._period
        if p > 1 and i >= p and i % p in (0, 1):
            return True
        return mix64(self._tie_key ^ i) % 1000 < self._tie_pm

    def mod(self, i: int) -> int:
        while self.tied(i):
            i -= 1
        return self._start + i * self._step + mix64(self._jit_key ^ i) % self._jit_range

    @property
    def step(self) -> int:
        return self._step


class BaseSequence:
    """Ids, existence and times of the base records of one kind.

    ``stride`` > 1 leaves id gaps (ids are ``id_base + stride*i + jitter(i)`` with
    ``jitter < stride``); ``stride == 1`` gives ``id_base + i`` (used for contacts, whose index
    space is dense slots of which only some exist).
    """

    __slots__ = ("_jitter_key", "count", "id_base", "stride", "timeline")

    def __init__(self, key: int, count: int, id_base: int, stride: int, timeline: Timeline) -> None:
        self.count = count
        self.id_base = id_base
        self.stride = stride
        self.timeline = timeline
        self._jitter_key = hash_key(key, 3)

    def id_of(self, i: int) -> int:
        if self.stride == 1:
            return self.id_base + i
        return self.id_base + self.stride * i + mix64(self._jitter_key ^ i) % self.stride

    def index_of(self, record_id: int) -> int | None:
        """The base index holding ``record_id``, or None when no base record has that id."""
        offset = record_id - self.id_base
        if offset < 0:
            return None
        i = offset // self.stride
        if i >= self.count or self.id_of(i) != record_id:
            return None
        return i

    def mod(self, i: int) -> int:
        return self.timeline.mod(i)

    def max_id(self) -> int:
        return self.id_base + self.stride * self.count

    def first_after(self, mod: int, key: int) -> int:
        """Smallest index whose ``(modifiedOn, id)`` is greater than ``(mod, key)``."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if (self.timeline.mod(mid), self.id_of(mid)) > (mod, key):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def first_mod_at_or_after(self, mod: int) -> int:
        """Smallest index whose ``modifiedOn`` is at least ``mod``."""
        return self.first_after(mod - 1, 1 << 62)
