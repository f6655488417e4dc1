"""Client-side pacing per (app key, tenant): the interface, and the in-process limiter.

ServiceTitan allows 60 requests/s per application per tenant and answers 429 beyond that. A
worker runs many activities for one tenant at once, so the budget must be shared: a client gets
its ``Limiter`` from a ``Limiters`` source. The default source is the process-wide
``RateLimiterRegistry`` below (CLI connection tests, unit tests); the worker passes one that
shares the budget between processes through PostgreSQL (``db.rate_limits``).

The limiter is a GCRA (the arithmetic form of a token bucket): each request reserves the next
free slot and sleeps until it. ``burst`` requests may go back to back; after that requests are
spaced ``1/rate`` apart, so any one-second window holds at most ``rate + burst`` requests.

Waiters queue on a lock and reserve their slot only when they reach its head. Reserving up
front and sleeping concurrently would be simpler, but after the event loop stalls (a big page
being parsed, a GC pause) every overdue sleeper would wake at once and the server would see
the whole backlog in one burst; queued waiters instead resume at most ``burst`` at a time.
The lock is per event loop (asyncio locks belong to one loop; a CLI may run several loops in
turn), and there is no background task. A cancelled waiter costs at most its slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Limiter(Protocol):
    """Paces one (app key, tenant): a client awaits ``acquire`` before every request."""

    async def acquire(self) -> float:
        """Wait for a slot; return the time waited in seconds."""
        ...


class Limiters(Protocol):
    """Where a client gets the limiter of its (app key, tenant)."""

    def get(self, app_key: str, tenant_id: int, rate: float, burst: int) -> Limiter:
        """The limiter for ``rate`` requests/s with up to ``burst`` back to back."""
        ...


def app_key_digest(app_key: str) -> str:
    """What identifies an app key in limiter keys and tables: never the key itself."""
    return hashlib.sha256(app_key.encode()).hexdigest()[:16]


class LoopLocks:
    """One ``asyncio.Lock`` per running event loop: the queue waiters of one limiter join.

    asyncio locks belong to one loop, and a CLI may run several loops in turn.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def current(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock


class RateLimiter:
    """Paces callers to ``rate`` per second with up to ``burst`` back to back."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._theoretical_arrival = clock()
        self._queue = LoopLocks()

    def reserve(self) -> float:
        """Claim the next slot; return how long the caller must wait for it (seconds)."""
        now = self._clock()
        arrival = max(self._theoretical_arrival, now)
        self._theoretical_arrival = arrival + self._interval
        return max(0.0, arrival - self._tolerance - now)

    async def acquire(self) -> float:
        """Wait for a slot (in arrival order); return the time waited in seconds."""
        started = self._clock()
        async with self._queue.current():
            delay = self.reserve()
            if delay > 0:
                await self._sleep(delay)
        return max(0.0, self._clock() - started)


class RateLimiterRegistry:
    """One ``RateLimiter`` per (app key, tenant). Keys are hashed: no app key kept in clear."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, int], RateLimiter] = {}

    def get(self, app_key: str, tenant_id: int, rate: float, burst: int) -> RateLimiter:
        key = (app_key_digest(app_key), tenant_id)
        limiter = self._limiters.get(key)
        if limiter is None or limiter.rate != rate or limiter.burst != burst:
            limiter = RateLimiter(rate, burst)
            self._limiters[key] = limiter
        return limiter


_process_registry = RateLimiterRegistry()


def process_rate_limiters() -> RateLimiterRegistry:
    """The registry every client in this process shares by default."""
    return _process_registry
