"""The process's one HTTP connection pool.

Every client for every credential shares one ``httpx.AsyncClient``, so keep-alive connections
to ``api.servicetitan.io`` are reused across tenants and the number of open sockets is bounded
by ``limits`` no matter how many activities run. Timeouts are passed on each request (from
``ClientConfig``), so the pool itself carries no per-deployment settings.

Close it on shutdown with ``await close_shared_http_client()``.

Bodies are read through ``receive``, which stops at a size cap counted after decompression,
so neither a huge page nor a small gzip bomb can exhaust a worker's memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from servicetitan.config import ClientConfig

USER_AGENT = "servicetitan-sync/0.1 (+httpx)"
ACCEPT_ENCODING = "gzip, deflate"
"""Pinned: httpx would also offer brotli or zstd once installed, whose ratios dwarf gzip's
(one network read of gzip inflates to at most ~1000 times its size before the cap is checked)."""
ERROR_BODY_BYTES = 64 * 1024
"""Of a non-2xx response only this much is read: plenty for problem details."""

DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0
)


def request_timeout(config: ClientConfig) -> httpx.Timeout:
    """Explicit timeouts for every phase; ServiceTitan documents 100 s for slow calls."""
    return httpx.Timeout(
        connect=config.connect_timeout_seconds,
        read=config.read_timeout_seconds,
        write=config.write_timeout_seconds,
        pool=config.pool_timeout_seconds,
    )


def new_http_client(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: httpx.Limits = DEFAULT_LIMITS,
) -> httpx.AsyncClient:
    """A client configured the way the ServiceTitan client expects (tests pass a transport)."""
    return httpx.AsyncClient(
        transport=transport,
        limits=limits,
        # A default that is never used on purpose: every request passes request_timeout().
        timeout=httpx.Timeout(30.0),
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        follow_redirects=False,
    )


@dataclass(frozen=True)
class Received:
    """A response read within the cap: status, headers and the decoded body."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class ResponseTooLarge(Exception):
    """A success response's decoded body passed ``limit`` bytes; reading stopped there."""

    def __init__(self, limit: int, status: int) -> None:
        super().__init__(f"response body larger than {limit} bytes")
        self.limit = limit
        self.status = status


async def receive(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    max_bytes: int,
    timeouts: httpx.Timeout,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Received:
    """Send a request and read its body, counting decoded bytes as they arrive.

    A 2xx body past ``max_bytes`` raises ``ResponseTooLarge``; of any other status only the
    first ``ERROR_BODY_BYTES`` are kept (its status says what happened, the body only why).
    httpx errors (timeouts, dropped connections, undecodable gzip) propagate as they are.
    """
    async with http.stream(
        method, url, params=params, data=data, headers=headers, timeout=timeouts
    ) as response:
        success = response.is_success
        limit = max_bytes if success else min(max_bytes, ERROR_BODY_BYTES)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            if size + len(chunk) > limit:
                if success:
                    raise ResponseTooLarge(max_bytes, response.status_code)
                chunks.append(chunk[: limit - size])
                break
            chunks.append(chunk)
            size += len(chunk)
        return Received(
            status_code=response.status_code,
            reason_phrase=response.reason_phrase,
            headers=response.headers,
            content=b"".join(chunks),
        )


_shared: httpx.AsyncClient | None = None


def shared_http_client() -> httpx.AsyncClient:
    """The process-wide client, created on first use."""
    global _shared
    if _shared is None or _shared.is_closed:
        _shared = new_http_client()
    return _shared


async def close_shared_http_client() -> None:
    """Close the pool (worker shutdown, end of a CLI command). Safe to call twice."""
    global _shared
    client, _shared = _shared, None
    if client is not None and not client.is_closed:
        await client.aclose()
