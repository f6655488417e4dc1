"""Typed errors against the in-process sandbox: 429, 5xx, broken bodies, connection test."""

from __future__ import annotations

import asyncio

import pytest

from sandbox import Sandbox
from servicetitan.errors import (
    ConnectionFailed,
    CredentialsRejected,
    InvalidResponse,
    RateLimited,
    ServiceTitanError,
    ServiceUnavailable,
)
from servicetitan.pages import ExportStream, ListResource
from tests.servicetitan.conftest import ClientFactory, credentials_for


async def test_429_surfaces_retry_after_without_retrying(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    sandbox.force_429(count=1, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await client.fetch_export_page(ExportStream.CUSTOMERS)
    error = caught.value
    assert error.retryable
    assert error.retry_after == 7.0
    assert error.status == 429
    assert str(error) == (
        "ServiceTitan rate limit reached on GET /crm/v2/tenant/2001/export/customers "
        "(tenant 2001); retry after 7 s"
    )
    assert sandbox.counters.requests["export_customers"] == 1  # surfaced, not retried
    page = await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert page.record_count > 0


async def test_429_on_the_token_endpoint(sandbox: Sandbox, make_client: ClientFactory) -> None:
    sandbox.force_429(count=1, retry_after=3, endpoint="token")
    with pytest.raises(RateLimited) as caught:
        await make_client().fetch_export_page(ExportStream.CUSTOMERS)
    assert caught.value.retry_after == 3.0
    assert caught.value.endpoint == "POST /connect/token"


async def test_client_side_limiter_keeps_under_the_server_limit(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    sandbox.set_faults(rate_limit_per_second=200, rate_limit_burst=20)
    paced = make_client(rate_limit_per_second=150, rate_limit_burst=10)
    await asyncio.gather(*(paced.count(ListResource.CUSTOMERS) for _ in range(100)))
    assert sandbox.counters.rate_limited == 0

    # Control: without client-side pacing the same burst is throttled by the server.
    sandbox.reset_faults()
    sandbox.set_faults(rate_limit_per_second=200, rate_limit_burst=20)
    unpaced = make_client(
        credentials_for(sandbox), rate_limit_per_second=100_000, rate_limit_burst=100_000
    )
    results = await asyncio.gather(
        *(unpaced.count(ListResource.CUSTOMERS) for _ in range(100)), return_exceptions=True
    )
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert limited
    assert all(r.retry_after >= 1 for r in limited)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(
    sandbox: Sandbox, make_client: ClientFactory, status: int
) -> None:
    client = make_client()
    sandbox.set_faults(error_rate=1.0, error_statuses=[status])
    with pytest.raises(ServiceUnavailable) as caught:
        await client.fetch_export_page(ExportStream.INVOICES)
    assert caught.value.retryable
    assert caught.value.status == status
    assert f"answered {status}" in str(caught.value)


async def test_truncated_json_body_is_retryable(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="json")
    with pytest.raises(InvalidResponse) as caught:
        await make_client().fetch_export_page(ExportStream.INVOICES)
    assert caught.value.retryable
    assert "not valid JSON" in str(caught.value)
    assert "tenant 2001" in str(caught.value)


async def test_dropped_connection_is_retryable(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="close")
    with pytest.raises(ConnectionFailed) as caught:
        await make_client().fetch_export_page(ExportStream.CUSTOMERS)
    assert caught.value.retryable


async def test_validate_credentials_verdicts(sandbox: Sandbox, make_client: ClientFactory) -> None:
    good = await make_client().validate_credentials()
    assert good.verdict == "connected"
    assert good.connected
    assert good.token_expires_at is not None
    assert sandbox.counters.tokens_issued == 1
    assert sandbox.counters.requests["customers"] == 1

    bad = await make_client(credentials_for(sandbox, secret="cs1.wrong")).validate_credentials()
    assert bad.verdict == "rejected"
    assert "invalid_client" in bad.reason
    assert isinstance(bad.error, CredentialsRejected)

    wrong_key = await make_client(app_key="ak1.not-registered").validate_credentials()
    assert wrong_key.verdict == "rejected"
    assert "401" in wrong_key.reason

    sandbox.set_faults(error_rate=1.0, error_statuses=[503])
    down = await make_client().validate_credentials()
    assert down.verdict == "unreachable"
    assert isinstance(down.error, ServiceTitanError) and down.error.retryable
