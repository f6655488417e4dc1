"""Failed authentications per client address, in a sliding one-minute window.

A caller that keeps presenting bad tokens is guessing: after ``per_minute`` failures its
address gets 429 with ``Retry-After`` (good tokens included) until the oldest failure leaves
the window. In memory, per process: enough to make guessing a 32-byte token hopeless; it is
not a quota for well-behaved clients, who never fail.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MAX_TRACKED_ADDRESSES = 10_000


class FailureLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - WINDOW_SECONDS:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if len(failures) < self.per_minute:
                return None
            return max(1, math.ceil(failures[0] + WINDOW_SECONDS - now))

    def record_failure(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            if address not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
                # Bounded memory: forget the address whose last failure is oldest.
                oldest = min(self._failures, key=lambda key: self._failures[key][-1])
                del self._failures[oldest]
            self._recent(address, now)
            self._failures.setdefault(address, deque()).append(now)
