"""The process's one HTTP connection pool.

Every client for every credential shares one ``httpx.AsyncClient``, so keep-alive connections
to ``api.servicetitan.io`` are reused across tenants and the number of open sockets is bounded
by ``limits`` no matter how many activities run. Timeouts are passed on each request (from
``ClientConfig``), so the pool itself carries no per-deployment settings.

Close it on shutdown with ``await close_shared_http_client()``.
"""

from __future__ import annotations

import httpx

from servicetitan.config import ClientConfig

USER_AGENT = "servicetitan-sync/0.1 (+httpx)"

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
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
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
