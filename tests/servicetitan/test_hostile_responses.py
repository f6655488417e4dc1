"""Hostile or broken 2xx responses: oversized bodies, gzip bombs, deep nesting, absurd lifetimes.

Each must end as a typed ``ServiceTitanError`` with a readable message, never as a stray
``RecursionError``/``OverflowError`` or a process that inflates a body until memory runs out.
Driven by canned responses (httpx.MockTransport) whose bodies arrive in pieces, as from a socket.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from core.settings import load_settings
from servicetitan.auth import TokenProvider
from servicetitan.client import ServiceTitanClient
from servicetitan.config import ClientConfig, Credentials, EnvironmentUrls
from servicetitan.errors import InvalidResponse, ServiceUnavailable
from servicetitan.pages import ExportPage, ExportStream, ListPage, ListResource
from servicetitan.ratelimit import RateLimiterRegistry
from tests.servicetitan.support import SECRETS, MemoryTokenStore

MIB = 1024 * 1024
URLS = EnvironmentUrls("https://auth.test", "https://api.test")
CREDS = Credentials(902, 6, "integration", "cid.hostile", "cs1.hostile-secret")
TOKEN = "unit-token-hostile"
SECRETS.add("ak1.hostile", "cid.hostile", "cs1.hostile-secret", TOKEN)
EXPORT_PATH = "/accounting/v2/tenant/6/export/invoices"


def config(**overrides: Any) -> ClientConfig:
    values: dict[str, Any] = {"app_key": "ak1.hostile", "integration": URLS, "production": URLS}
    values.update(overrides)
    return ClientConfig(**values)


class Pieces(httpx.AsyncByteStream):
    """A body delivered in fixed-size pieces; counts how many the client pulled."""

    def __init__(self, body: bytes, size: int = 16 * 1024) -> None:
        self.pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.pulled += 1
            yield piece


Handler = Callable[[httpx.Request], httpx.Response]


def api(respond: Handler) -> Handler:
    """Tokens from the token endpoint; every other request answered by ``respond``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connect/token":
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 900})
        return respond(request)

    return handler


def client(handler: Handler, **overrides: Any) -> ServiceTitanClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ServiceTitanClient(
        CREDS,
        config(**overrides),
        MemoryTokenStore(),
        http=http,
        rate_limiters=RateLimiterRegistry(),
    )


def page_body(records: int) -> bytes:
    data = [{"id": i, "number": f"INV-{i:06d}", "total": "12.50"} for i in range(records)]
    return orjson.dumps({"hasMore": False, "continueFrom": "tok", "data": data})


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body that inflates to ``inflated`` bytes (a JSON page of zeros) from ~1/1000 of it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(b'{"hasMore":false,"continueFrom":"x","data":["')]
    block = b"0" * MIB
    for _ in range(inflated // MIB):
        parts.append(packer.compress(block))
    parts.append(packer.compress(b'"]}'))
    parts.append(packer.flush())
    return b"".join(parts)


def gzipped(body: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return packer.compress(body) + packer.flush()


# --- size cap (item 6) ------------------------------------------------------------------------


def test_the_cap_defaults_to_64_mib_and_comes_from_the_settings() -> None:
    assert config().max_response_bytes == 64 * MIB
    settings = load_settings(servicetitan_app_key="ak1.hostile")
    assert ClientConfig.from_settings(settings).max_response_bytes == 64 * MIB
    settings = load_settings(servicetitan_app_key="ak1.hostile", servicetitan_max_response_mb=5)
    assert ClientConfig.from_settings(settings).max_response_bytes == 5 * MIB
    with pytest.raises(ValueError, match="max_response_bytes"):
        config(max_response_bytes=0)


async def test_a_page_over_the_cap_fails_with_a_clear_invalid_response() -> None:
    body = page_body(400)
    assert len(body) > 16 * 1024
    stream = Pieces(body, size=1024)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream)

    with pytest.raises(InvalidResponse) as caught:
        await client(api(respond), max_response_bytes=16 * 1024).fetch_export_page(
            ExportStream.INVOICES
        )
    error = caught.value
    assert "larger than 16 KiB" in error.message
    assert EXPORT_PATH in error.message and "tenant 6" in error.message
    assert "SERVICETITAN_MAX_RESPONSE_MB" in error.message
    assert not error.retryable  # the same request brings the same page: raise the cap instead
    assert error.status == 200
    assert stream.pulled <= 17  # reading stopped at the cap, not at the end of the body

    # The same page under a cap it fits in is read as usual.
    fits = await client(
        api(lambda request: httpx.Response(200, content=body)), max_response_bytes=MIB
    ).fetch_export_page(ExportStream.INVOICES)
    assert fits.record_count == 400


async def test_a_gzip_bomb_is_stopped_once_its_inflated_size_passes_the_cap() -> None:
    bomb = gzip_bomb(128 * MIB)
    assert len(bomb) < MIB  # small on the wire
    stream = Pieces(bomb)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream)

    with pytest.raises(InvalidResponse, match="larger than 1 MiB") as caught:
        await client(api(respond), max_response_bytes=MIB).fetch_export_page(ExportStream.INVOICES)
    assert not caught.value.retryable
    # Inflating stopped after the first pieces, not after 128 MiB.
    assert len(stream.pieces) >= 8
    assert stream.pulled <= 2


async def test_the_default_cap_stops_a_gzip_bomb() -> None:
    bomb = gzip_bomb(65 * MIB)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Pieces(bomb))

    with pytest.raises(InvalidResponse, match="larger than 64 MiB"):
        await client(api(respond)).fetch_export_page(ExportStream.INVOICES)


async def test_compressed_pages_within_the_cap_are_read_as_usual() -> None:
    body = page_body(300)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=Pieces(gzipped(body), size=512)
        )

    page = await client(api(respond), max_response_bytes=len(body)).fetch_export_page(
        ExportStream.INVOICES
    )
    assert page.raw == body
    assert page.record_count == 300


async def test_only_gzip_and_deflate_are_offered() -> None:
    """Encodings with far higher ratios than gzip's (brotli, zstd) are never negotiated."""
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=page_body(1))

    from servicetitan.http import new_http_client

    http = new_http_client(transport=httpx.MockTransport(api(respond)))
    api_client = ServiceTitanClient(
        CREDS, config(), MemoryTokenStore(), http=http, rate_limiters=RateLimiterRegistry()
    )
    await api_client.fetch_export_page(ExportStream.INVOICES)
    assert seen[0].headers["accept-encoding"] == "gzip, deflate"


async def test_an_error_status_with_a_huge_body_keeps_its_meaning() -> None:
    stream = Pieces(b"<html>" + b"x" * (8 * MIB), size=64 * 1024)

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, stream=stream)

    with pytest.raises(ServiceUnavailable) as caught:
        await client(api(respond), max_response_bytes=MIB).fetch_export_page(ExportStream.INVOICES)
    assert type(caught.value) is ServiceUnavailable
    assert caught.value.retryable
    assert caught.value.status == 503
    assert stream.pulled <= 2  # only the start of an error body is read


async def test_an_oversized_token_response_is_an_invalid_response() -> None:
    padding = "x" * (2 * MIB)

    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.dumps({"access_token": TOKEN, "expires_in": 900, "pad": padding})
        return httpx.Response(200, stream=Pieces(body, size=64 * 1024))

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    tokens = TokenProvider(config(max_response_bytes=MIB), MemoryTokenStore(), http)
    with pytest.raises(InvalidResponse, match="larger than 1 MiB") as caught:
        await tokens.request_token(CREDS)
    assert "POST /connect/token" in caught.value.message
    assert not caught.value.retryable


# --- deep nesting (item 7) --------------------------------------------------------------------

DEPTH = 100_000


def deep(value: bytes = b"1") -> bytes:
    return b"[" * DEPTH + value + b"]" * DEPTH


@pytest.mark.parametrize(
    "raw",
    [
        b'{"hasMore":true,"continueFrom":"a","data":[{"id":1,"items":' + deep() + b"}]}",
        b'{"hasMore":true,"continueFrom":"a","data":[' + deep() + b"]}",
        b'{"hasMore":true,"continueFrom":"a","data":[],"extra":' + deep() + b"}",
        b'{"hasMore":true,"continueFrom":' + deep() + b',"data":[]}',
    ],
    ids=["in-a-record", "a-record", "beside-the-data", "as-the-cursor"],
)
def test_a_deeply_nested_page_is_an_invalid_response(raw: bytes) -> None:
    with pytest.raises(InvalidResponse, match="nested too deeply") as caught:
        ExportPage.from_raw(ExportStream.INVOICES, raw)
    assert "invoices export page" in caught.value.message
    assert not caught.value.retryable


def test_a_deeply_nested_list_page_is_an_invalid_response() -> None:
    raw = b'{"page":1,"hasMore":false,"data":[' + deep() + b"]}"
    with pytest.raises(InvalidResponse, match="nested too deeply"):
        ListPage.from_raw(ListResource.CUSTOMERS, raw, page=1, page_size=50)


def test_nesting_within_the_decoders_reach_still_decodes() -> None:
    nested = b"[" * 600 + b"1" + b"]" * 600
    raw = b'{"hasMore":false,"continueFrom":"a","data":[{"id":1,"items":' + nested + b"}]}"
    page = ExportPage.from_raw(ExportStream.INVOICES, raw)
    assert page.record_count == 1
    assert page.records()[0]["id"] == 1


async def test_a_deeply_nested_page_fails_the_fetch_with_its_place() -> None:
    raw = b'{"hasMore":true,"continueFrom":"a","data":[' + deep() + b"]}"

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=raw)

    with pytest.raises(InvalidResponse) as caught:
        await client(api(respond)).fetch_export_page(ExportStream.INVOICES)
    assert "nested too deeply" in caught.value.message
    assert EXPORT_PATH in caught.value.message
    assert not caught.value.retryable


# --- token lifetimes (item 7) -----------------------------------------------------------------


def token_provider(body: bytes) -> TokenProvider:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    )
    return TokenProvider(config(), MemoryTokenStore(), http)


@pytest.mark.parametrize("expires_in", [b"1e308", b'"1e308"', b'"inf"', b"1e12", b"90000"], ids=str)
async def test_an_absurd_token_lifetime_is_a_rejected_token_response(expires_in: bytes) -> None:
    body = b'{"access_token":"' + TOKEN.encode() + b'","expires_in":' + expires_in + b"}"
    with pytest.raises(InvalidResponse) as caught:
        await token_provider(body).request_token(CREDS)
    message = caught.value.message
    assert "expires_in" in message and "POST /connect/token" in message
    assert TOKEN not in message
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("expires_in", "seconds"), [(b"3600", 3600), (b'"1800"', 1800), (b"86400", 86400)]
)
async def test_plausible_token_lifetimes_are_kept(expires_in: bytes, seconds: int) -> None:
    body = b'{"access_token":"' + TOKEN.encode() + b'","expires_in":' + expires_in + b"}"
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    )
    token = await TokenProvider(
        config(), MemoryTokenStore(), http, now=lambda: fixed
    ).request_token(CREDS)
    assert (token.expires_at - fixed).total_seconds() == seconds


async def test_a_connection_test_reports_an_absurd_lifetime_instead_of_crashing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 1e308})

    check = await client(handler).validate_credentials()
    assert not check.connected
    assert "expires_in" in check.reason
    assert isinstance(check.error, InvalidResponse)
