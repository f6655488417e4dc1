"""The ServiceTitan rate limit shared through PostgreSQL (db/rate_limits.py).

"Workers" here are threads, each with its own event loop, engine and fallback registry, so
nothing in process memory is shared and only the table can pace them together. Times are
taken on this process's monotonic clock when ``acquire`` returns, i.e. when a request would
be sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import psycopg
import pytest
import structlog

from db import rate_limits
from db.engine import make_async_engine
from db.rate_limits import SharedRateLimiters
from servicetitan.ratelimit import RateLimiter, RateLimiterRegistry, app_key_digest

APP_KEY = "ak1.shared-limit-test"
TENANT = 7001


def most_in_one_second(times: list[float]) -> int:
    """The largest number of sends in any window [t, t + 1 s)."""
    ordered = sorted(times)
    return max(sum(1 for u in ordered[i:] if u < t + 1.0) for i, t in enumerate(ordered))


def _worker(
    database_url: str,
    rate: float,
    burst: int,
    tasks: int,
    calls: int,
    start: threading.Barrier,
    sent: list[float],
) -> None:
    """One "worker process": its own event loop, connection pool and limiters."""

    async def work() -> None:
        engine = make_async_engine(database_url, pool_size=2)
        limiter = SharedRateLimiters(engine, fallback=RateLimiterRegistry()).get(
            APP_KEY, TENANT, rate, burst
        )

        async def requester() -> None:
            for _ in range(calls):
                await limiter.acquire()
                sent.append(time.monotonic())

        try:
            async with engine.connect():  # connect first, so the start is not staggered by it
                pass
            start.wait(timeout=30)
            await asyncio.gather(*(requester() for _ in range(tasks)))
        finally:
            await engine.dispose()

    asyncio.run(work())


async def test_workers_together_never_exceed_rate_plus_burst_in_any_second(
    database_url: str,
) -> None:
    rate, burst, workers, tasks, calls = 20.0, 4, 3, 2, 12
    start = threading.Barrier(workers)
    sent: list[float] = []
    threads = [
        threading.Thread(
            target=_worker, args=(database_url, rate, burst, tasks, calls, start, sent)
        )
        for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(_joined, threads)
    total = workers * tasks * calls
    assert len(sent) == total
    # Each worker alone would allow 24 a second; three unshared would send about 60.
    assert most_in_one_second(sent) <= rate + burst
    # and the budget is used, not merely respected: the run takes (total - burst) / rate.
    assert max(sent) - min(sent) >= (total - burst) / rate * 0.9


def _joined(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()


async def test_a_fresh_key_allows_its_burst_then_paces(database_url: str) -> None:
    engine = make_async_engine(database_url, pool_size=2)
    try:
        limiters = SharedRateLimiters(engine, fallback=RateLimiterRegistry())
        limiter = limiters.get(APP_KEY, TENANT, 10.0, 3)
        waits = [await limiter.reserve() for _ in range(5)]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert waits[3] == pytest.approx(0.1, abs=0.02)
        assert waits[4] == pytest.approx(0.2, abs=0.02)
        # Another tenant of the same app key has a budget of its own.
        assert await limiters.get(APP_KEY, TENANT + 1, 10.0, 3).reserve() == 0.0
    finally:
        await engine.dispose()
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT app_key_digest, tenant_id, theoretical_arrival > clock_timestamp() "
            "FROM servicetitan_rate_limits ORDER BY tenant_id"
        ).fetchall()
    assert rows == [
        (app_key_digest(APP_KEY), TENANT, True),
        (app_key_digest(APP_KEY), TENANT + 1, True),
    ]
    assert all(APP_KEY not in str(row) for row in rows), "the app key is stored hashed only"


async def test_a_row_far_ahead_of_the_clock_restarts_from_now(database_url: str) -> None:
    """A database clock stepped back must not stall the tenant for the size of the step."""
    engine = make_async_engine(database_url, pool_size=2)
    try:
        limiter = SharedRateLimiters(engine, fallback=RateLimiterRegistry()).get(
            APP_KEY, TENANT, 10.0, 2
        )
        await limiter.reserve()
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                "UPDATE servicetitan_rate_limits "
                "SET theoretical_arrival = clock_timestamp() + interval '1 hour'"
            )
        assert [await limiter.reserve() for _ in range(3)] == [
            0.0,
            0.0,
            pytest.approx(0.1, abs=0.02),
        ]
        # A backlog inside the horizon (1000 intervals, 100 s here) is kept.
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                "UPDATE servicetitan_rate_limits "
                "SET theoretical_arrival = clock_timestamp() + interval '50 seconds'"
            )
        assert await limiter.reserve() == pytest.approx(49.9, abs=0.05)
    finally:
        await engine.dispose()


async def test_acquire_sleeps_the_wait_the_database_returns(database_url: str) -> None:
    engine = make_async_engine(database_url, pool_size=2)
    try:
        limiter = SharedRateLimiters(engine, fallback=RateLimiterRegistry()).get(
            APP_KEY, TENANT, 10.0, 1
        )
        waited = [await limiter.acquire() for _ in range(4)]
    finally:
        await engine.dispose()
    assert waited[0] < 0.05
    assert sum(waited) == pytest.approx(0.3, abs=0.06)


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(rate_limits, "ACQUIRE_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(rate_limits, "RETRY_AFTER_SECONDS", 0.5)
    yield


class CountingLimiter(RateLimiter):
    """A process limiter that counts the slots taken through it."""

    acquired = 0

    async def acquire(self) -> float:
        self.acquired += 1
        return await super().acquire()


class OneLimiterRegistry(RateLimiterRegistry):
    """A fallback registry that hands out one counting limiter for every key."""

    def __init__(self, limiter: CountingLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    def get(self, app_key: str, tenant_id: int, rate: float, burst: int) -> RateLimiter:
        return self.limiter


async def test_unreachable_database_falls_back_to_the_process_limiter(
    quick_retry: None,
) -> None:
    engine = make_async_engine("postgresql://nobody:pw-not-logged@127.0.0.1:9/none")
    fallback = OneLimiterRegistry(CountingLimiter(10.0, 1))
    limiter = SharedRateLimiters(engine, fallback=fallback).get(APP_KEY, TENANT, 10.0, 1)
    try:
        with structlog.testing.capture_logs() as logs:
            started = time.monotonic()
            for _ in range(4):
                await limiter.acquire()
            elapsed = time.monotonic() - started
    finally:
        await engine.dispose()
    assert elapsed == pytest.approx(0.3, abs=0.15), "paced by the process limiter"
    assert fallback.limiter.acquired == 4, "the fallback took the slots"
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1, "one warning per outage, not one per request"
    assert warnings[0]["error_type"] == "OperationalError"
    text = str(logs)
    assert APP_KEY not in text and "pw-not-logged" not in text


async def test_a_database_that_does_not_answer_in_time_falls_back_then_recovers(
    database_url: str, quick_retry: None
) -> None:
    engine = make_async_engine(database_url, pool_size=2)
    limiter = SharedRateLimiters(engine, fallback=RateLimiterRegistry()).get(
        APP_KEY, TENANT, 1000.0, 1000
    )
    try:
        await limiter.acquire()  # the row exists
        with psycopg.connect(database_url) as blocker, structlog.testing.capture_logs() as logs:
            blocker.execute("SELECT * FROM servicetitan_rate_limits FOR UPDATE")
            started = time.monotonic()
            await asyncio.gather(*(limiter.acquire() for _ in range(5)))
            # One timeout (0.3 s) for the head of the queue, not one per waiter.
            assert time.monotonic() - started < 0.9, "waited about the timeout once"
            assert [e["log_level"] for e in logs] == ["warning"]
            await limiter.acquire()  # within the retry delay: the database is not tried
            blocker.rollback()
        before = _arrival(database_url)
        await asyncio.sleep(rate_limits.RETRY_AFTER_SECONDS)
        with structlog.testing.capture_logs() as logs:
            await limiter.acquire()
        assert _arrival(database_url) > before, "the shared limit is used again"
        assert [e["event"] for e in logs] == ["shared ServiceTitan rate limit available again"]
    finally:
        await engine.dispose()


async def test_a_connection_killed_under_the_statement_is_replaced_without_falling_back(
    database_url: str,
) -> None:
    engine = make_async_engine(database_url, pool_size=2)
    limiter = SharedRateLimiters(engine, fallback=RateLimiterRegistry()).get(
        APP_KEY, TENANT, 1000.0, 1000
    )
    try:
        await limiter.acquire()
        before = _arrival(database_url)
        with psycopg.connect(database_url) as blocker, structlog.testing.capture_logs() as logs:
            blocker.execute("SELECT * FROM servicetitan_rate_limits FOR UPDATE")
            waiting = asyncio.create_task(limiter.acquire())
            with psycopg.connect(database_url, autocommit=True) as admin:
                killed = 0
                for _ in range(100):
                    killed = len(
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' "
                            "AND query LIKE '%INSERT INTO servicetitan_rate_limits%'"
                        ).fetchall()
                    )
                    if killed:
                        break
                    await asyncio.sleep(0.02)
            assert killed == 1, "the limiter's statement never waited on the row"
            blocker.rollback()
            await waiting
        assert logs == [], "no fallback: the statement ran again on a new connection"
        assert _arrival(database_url) > before
    finally:
        await engine.dispose()


def _arrival(database_url: str) -> datetime:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT theoretical_arrival FROM servicetitan_rate_limits"
        ).fetchone()
    assert row is not None
    arrival: datetime = row[0]
    return arrival
