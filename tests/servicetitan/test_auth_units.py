"""Token-endpoint response handling, driven by canned responses (httpx.MockTransport).

The behaviour across processes and under load is tested against the sandbox; these pin down
how each kind of token response is classified, including shapes the sandbox does not produce.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import httpx
import orjson
import pytest

from servicetitan.auth import TokenProvider
from servicetitan.config import ClientConfig, Credentials, EnvironmentUrls
from servicetitan.errors import (
    BadRequest,
    ConnectionFailed,
    CredentialsRejected,
    InvalidResponse,
    RateLimited,
    ServiceUnavailable,
)
from servicetitan.tokens import AccessToken
from tests.servicetitan.support import SECRETS, MemoryTokenStore, RecordingTransport

URLS = EnvironmentUrls("https://auth.test", "https://api.test")
CONFIG = ClientConfig(app_key="ak1.unit", integration=URLS, production=URLS)
CREDS = Credentials(901, 5, "integration", "cid.unit", "cs1.unit-secret")
SECRETS.add("ak1.unit", "cid.unit", "cs1.unit-secret")


def provider(handler, store: MemoryTokenStore | None = None, now=None) -> TokenProvider:
    http = httpx.AsyncClient(transport=RecordingTransport(httpx.MockTransport(handler)))
    return TokenProvider(
        CONFIG, store or MemoryTokenStore(), http, now=now or (lambda: datetime.now(UTC))
    )


def reply(status: int, body: object, headers: dict[str, str] | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return httpx.Response(status, content=content, headers=headers)

    return handler


async def test_token_request_form_and_expiry() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "unit-token-one", "expires_in": 900})

    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    token = await provider(handler, now=lambda: fixed).request_token(CREDS)
    assert token.value == "unit-token-one"
    assert token.expires_at == fixed + timedelta(seconds=900)
    (request,) = seen
    assert str(request.url) == "https://auth.test/connect/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(x.split("=") for x in request.content.decode().split("&"))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "cid.unit",
        "client_secret": "cs1.unit-secret",
    }
    assert "st-app-key" not in request.headers


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, {"error": "invalid_client"}, "invalid_client"),
        (
            401,
            {"error": "invalid_client", "error_description": "bad cs1.unit-secret"},
            "invalid_client",
        ),
        (400, {"error": "unauthorized_client"}, "unauthorized_client"),
        (401, b"", "unauthorized"),
        (403, {"type": "error", "message": "nope"}, "forbidden"),
    ],
)
async def test_rejections_are_not_retryable(status: int, body: object, reason: str) -> None:
    with pytest.raises(CredentialsRejected) as caught:
        await provider(reply(status, body)).request_token(CREDS)
    assert caught.value.reason == reason
    assert not caught.value.retryable
    assert "cs1.unit-secret" not in str(caught.value)
    assert "client id/secret" in str(caught.value) or "refused access" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "error_type"),
    [
        (429, {"title": "Too many"}, RateLimited),
        (503, b"<html>", ServiceUnavailable),
        (400, {"error": "unsupported_grant_type"}, BadRequest),
        (200, {"token_type": "Bearer"}, InvalidResponse),
        (200, b"not json", InvalidResponse),
    ],
)
async def test_other_token_failures(status: int, body: object, error_type: type) -> None:
    with pytest.raises(error_type):
        await provider(reply(status, body, {"Retry-After": "2"})).request_token(CREDS)


async def test_connection_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ConnectionFailed) as caught:
        await provider(handler).request_token(CREDS)
    assert caught.value.retryable


async def test_missing_expires_in_uses_documented_lifetime() -> None:
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    token = await provider(
        reply(200, {"access_token": "unit-token-two"}), now=lambda: fixed
    ).request_token(CREDS)
    assert token.expires_at == fixed + timedelta(seconds=900)


async def test_failed_early_refresh_falls_back_to_current_token() -> None:
    """A throttled token endpoint must not fail calls while the cached token still works."""
    calls = 0

    def throttled(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, headers={"Retry-After": "9"})

    store = MemoryTokenStore()
    now = datetime.now(UTC)
    clock = [now]
    current = AccessToken("unit-token-still-valid", now + timedelta(seconds=120))  # < threshold
    SECRETS.add(current.value, "unit-token-dying")
    await store.save(CREDS.credential_id, current)
    tokens = provider(throttled, store=store, now=lambda: clock[0])
    assert (await tokens.get(CREDS)).value == "unit-token-still-valid"
    assert calls == 1
    # Within Retry-After the endpoint is left alone; after it, the refresh is tried again.
    assert (await tokens.get(CREDS)).value == "unit-token-still-valid"
    assert calls == 1
    clock[0] = now + timedelta(seconds=10)
    assert (await tokens.get(CREDS)).value == "unit-token-still-valid"
    assert calls == 2
    # ...but a refused token is never handed back, and an almost-expired one neither.
    with pytest.raises(RateLimited):
        await tokens.replace(CREDS, current)
    await store.save(
        CREDS.credential_id, AccessToken("unit-token-dying", now + timedelta(seconds=25))
    )
    with pytest.raises(RateLimited):
        await tokens.get(CREDS)


async def test_single_flight_in_process() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return httpx.Response(
            200, json={"access_token": f"unit-token-flight-{calls}", "expires_in": 900}
        )

    tokens = provider(handler)
    results = await asyncio.gather(*(tokens.get(CREDS) for _ in range(25)))
    assert calls == 1
    assert {t.value for t in results} == {"unit-token-flight-1"}


async def test_export_iteration_stops_on_a_repeated_token() -> None:
    """hasMore with the same continueFrom would loop forever; the client refuses."""
    from servicetitan.client import ServiceTitanClient
    from servicetitan.pages import ExportStream
    from servicetitan.ratelimit import RateLimiterRegistry

    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connect/token":
            return httpx.Response(200, json={"access_token": "unit-token-loop", "expires_in": 900})
        requests.append(request)
        return httpx.Response(200, json={"hasMore": True, "continueFrom": "same", "data": [{}]})

    SECRETS.add("unit-token-loop")
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = ServiceTitanClient(
        CREDS, CONFIG, MemoryTokenStore(), http=http, rate_limiters=RateLimiterRegistry()
    )
    pages = []
    with pytest.raises(InvalidResponse, match="gave no new continueFrom"):
        async for page in client.export_pages(ExportStream.INVOICES, "2024-01-01"):
            pages.append(page)
    assert len(pages) == 2
    assert [r.url.params.get("from") for r in requests] == ["2024-01-01", "same"]
    assert requests[0].headers["authorization"] == "Bearer unit-token-loop"
    assert requests[0].headers["st-app-key"] == "ak1.unit"


def test_format_timestamp() -> None:
    from servicetitan.client import format_timestamp

    assert format_timestamp("opaque-token") == "opaque-token"
    assert format_timestamp(datetime(2024, 1, 1, 0, 0, 0, 1000)) == "2024-01-01T00:00:00.001000Z"
    east = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(east) == "2024-01-01T00:00:00Z"
