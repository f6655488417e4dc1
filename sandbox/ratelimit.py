"""ServiceTitan's documented limit: 60 requests per second per application per tenant.

A token bucket per ``(ST-App-Key, tenant)``: it holds up to ``burst`` requests (one second's
worth by default) and refills continuously at ``rate``. An empty bucket answers 429 with a
whole-second ``Retry-After``.
"""

from __future__ import annotations

import math

from sandbox.clock import Clock


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, int], tuple[float, float]] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def acquire(self, app_key: str, tenant_id: int, rate: float, burst: float) -> int | None:
        """Take one request from the bucket; None if allowed, else seconds to wait (>= 1)."""
        if rate <= 0:
            return None
        now = self._clock.monotonic()
        key = (app_key, tenant_id)
        tokens, last = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))
