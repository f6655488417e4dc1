"""The ServiceTitan rate limit of each (app key, tenant), shared by every worker process.

ServiceTitan counts requests per application and tenant, however many workers send them, so
the budget lives in PostgreSQL (``servicetitan_rate_limits``) as a GCRA, the arithmetic form
of a token bucket, like the in-process ``servicetitan.ratelimit.RateLimiter``. One statement
per request, autocommitted, reserves the next slot: ``tat = greatest(tat, now) + 1/rate``
(inserting the row for a new key), and the caller sleeps until the slot, less the burst
tolerance. Only the database clock is read (``clock_timestamp()``, after the row lock is
taken), so workers on hosts with drifting clocks agree; the caller sleeps a duration.

Within a process, waiters queue per event loop as in the process limiter: only the head of
the queue reserves, then sleeps, so an event-loop stall releases at most ``burst`` requests at
once and a process has at most one statement per key in flight.

PostgreSQL unreachable or slow (no answer within ``ACQUIRE_TIMEOUT_SECONDS``): the process
limiter paces this process alone, a warning is logged once, and the database is tried again
``RETRY_AFTER_SECONDS`` later. Until then N processes may send N times the budget; a 429 is
still answered by waiting ``Retry-After``, and a sync cannot stage pages without PostgreSQL
anyway.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.logging import get_logger
from servicetitan.ratelimit import (
    Limiter,
    LoopLocks,
    RateLimiterRegistry,
    app_key_digest,
    process_rate_limiters,
)

log = get_logger(__name__)

ACQUIRE_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 10.0
HORIZON_SLOTS = 1000
"""A row further ahead of the clock than this many intervals is stale (the database clock
stepped back) and restarts from now. Queue heads reserve one slot each, so a real backlog is
about one slot per worker process."""

# Returns the row's new arrival time minus the database clock, in seconds; the wait is that
# minus one interval (the slot just taken) and the burst tolerance.
RESERVE = text(
    """
    INSERT INTO servicetitan_rate_limits AS limits
        (app_key_digest, tenant_id, theoretical_arrival)
    VALUES (:digest, :tenant, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (app_key_digest, tenant_id) DO UPDATE
    SET theoretical_arrival = CASE
            WHEN limits.theoretical_arrival > clock_timestamp() + make_interval(secs => :horizon)
            THEN clock_timestamp()
            ELSE greatest(limits.theoretical_arrival, clock_timestamp())
        END + make_interval(secs => :interval)
    RETURNING extract(epoch FROM limits.theoretical_arrival - clock_timestamp())::float8
    """
)


class DatabaseHealth:
    """Whether the limiters of one database use it now; shared by all of its keys."""

    def __init__(self) -> None:
        self._retry_at: float | None = None

    def usable(self) -> bool:
        return self._retry_at is None or time.monotonic() >= self._retry_at

    def failed(self, error: BaseException) -> None:
        if self._retry_at is None:
            reason = str(error).splitlines()[0] if str(error) else ""
            log.warning(
                "shared ServiceTitan rate limit unavailable: pacing per process until "
                "PostgreSQL answers again",
                error_type=type(error).__name__,
                error=reason[:200],
                retry_in_seconds=RETRY_AFTER_SECONDS,
            )
        self._retry_at = time.monotonic() + RETRY_AFTER_SECONDS

    def recovered(self) -> None:
        if self._retry_at is not None:
            self._retry_at = None
            log.info("shared ServiceTitan rate limit available again")


class SharedRateLimiter:
    """``servicetitan.ratelimit.Limiter`` for one (app key, tenant), paced in PostgreSQL."""

    def __init__(
        self,
        engine: AsyncEngine,
        health: DatabaseHealth,
        *,
        digest: str,
        tenant_id: int,
        rate: float,
        burst: int,
        fallback: Limiter,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._engine = engine
        self._health = health
        self._parameters = {
            "digest": digest,
            "tenant": tenant_id,
            "interval": 1.0 / rate,
            "horizon": HORIZON_SLOTS / rate,
        }
        self._tolerance = burst / rate  # the slot just taken plus (burst - 1) intervals
        self._fallback = fallback
        self._queue = LoopLocks()

    async def reserve(self) -> float:
        """Claim the next slot in PostgreSQL; return how long to wait for it (seconds).

        A connection that died under the statement (killed, or left from before a restart)
        is replaced once; at worst that takes one slot more.
        """
        try:
            ahead = await self._reserve_once()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            ahead = await self._reserve_once()
        return max(0.0, ahead - self._tolerance)

    async def _reserve_once(self) -> float:
        async with self._engine.connect() as connection:
            return float((await connection.execute(RESERVE, self._parameters)).scalar_one())

    async def acquire(self) -> float:
        """Wait for a slot (in arrival order within the process); return the time waited."""
        started = time.monotonic()
        delay: float | None = None
        async with self._queue.current():
            # Checked at the head of the queue: after a failure, the waiters queued behind it
            # do not each wait out the timeout again.
            if self._health.usable():
                try:
                    async with asyncio.timeout(ACQUIRE_TIMEOUT_SECONDS):
                        delay = await self.reserve()
                except (SQLAlchemyError, OSError, TimeoutError) as error:
                    self._health.failed(error)
                else:
                    self._health.recovered()
                    if delay > 0:
                        await asyncio.sleep(delay)
        if delay is None:
            await self._fallback.acquire()
        return max(0.0, time.monotonic() - started)


class SharedRateLimiters:
    """``servicetitan.ratelimit.Limiters`` backed by PostgreSQL, one limiter per key.

    ``engine`` is the process's engine; statements run in autocommit, so a row lock is held
    for one statement only. ``fallback`` paces when the database does not answer (by
    default the process-wide registry every other client of the process uses).
    """

    def __init__(self, engine: AsyncEngine, *, fallback: RateLimiterRegistry | None = None) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._health = DatabaseHealth()
        self._fallback = fallback or process_rate_limiters()
        self._limiters: dict[tuple[str, int], SharedRateLimiter] = {}

    def get(self, app_key: str, tenant_id: int, rate: float, burst: int) -> SharedRateLimiter:
        digest = app_key_digest(app_key)
        limiter = self._limiters.get((digest, tenant_id))
        if limiter is None or limiter.rate != rate or limiter.burst != burst:
            limiter = SharedRateLimiter(
                self._engine,
                self._health,
                digest=digest,
                tenant_id=tenant_id,
                rate=rate,
                burst=burst,
                fallback=self._fallback.get(app_key, tenant_id, rate, burst),
            )
            self._limiters[(digest, tenant_id)] = limiter
        return limiter
