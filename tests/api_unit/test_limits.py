"""The failed-authentication window and the body limit without a Content-Length."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from api.ratelimit import FailureLimiter


def test_failures_block_an_address_until_the_oldest_leaves_the_window() -> None:
    now = [1000.0]
    limiter = FailureLimiter(per_minute=2, clock=lambda: now[0])
    limiter.record_failure("10.0.0.1")
    now[0] += 20
    assert limiter.retry_after("10.0.0.1") is None
    limiter.record_failure("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 40  # the first failure leaves at 1060
    assert limiter.retry_after("10.0.0.2") is None, "other addresses are not affected"
    now[0] += 40
    assert limiter.retry_after("10.0.0.1") is None


async def test_a_streamed_body_over_the_limit_is_413(
    api: httpx.AsyncClient, admin_token: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"tenantId": "1", "clientId": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = await api.post(
        "/api/servicetitan/credentials",
        content=chunks(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
