"""A byte-budgeted LRU of serialized export pages.

Generating a page costs ~20–30 µs per invoice; serving a cached one costs a memory copy. The
benchmarks re-read the same feeds many times, so pages are cached under their exact request
(tenant, feed, position, page size) and tagged with the tenant's change generation: any change
to the tenant makes its cached pages unreachable (they age out of the LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

CacheValue = tuple[bytes, int, bool, Any]


class PageCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[int, CacheValue]] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()
        self.size = 0

    def get(self, key: tuple[Any, ...], generation: int) -> CacheValue | None:
        hit = self._entries.get(key)
        if hit is None or hit[0] != generation:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return hit[1]

    def put(self, key: tuple[Any, ...], generation: int, value: CacheValue) -> None:
        size = len(value[0])
        if size > self.budget:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old[1][0])
        self._entries[key] = (generation, value)
        self.size += size
        while self.size > self.budget and self._entries:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.size -= len(evicted[0])
