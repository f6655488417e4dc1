"""The client against ``python -m sandbox serve`` over real sockets.

What only a real server can show: the shared connection pool, timeouts (in-process transports
ignore them), a connection dropped mid-body, an unreachable host, and headers as they cross
the wire.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from sandbox import SandboxConfig
from servicetitan.client import ServiceTitanClient
from servicetitan.errors import ConnectionFailed, RateLimited, RequestTimeout
from servicetitan.http import close_shared_http_client, shared_http_client
from servicetitan.pages import ExportStream, ListResource
from servicetitan.ratelimit import RateLimiterRegistry
from tests.servicetitan.conftest import (
    TENANT,
    SandboxAdmin,
    client_config,
    credentials_for,
)
from tests.servicetitan.support import MemoryTokenStore


def _client(
    url: str,
    config: SandboxConfig,
    http: httpx.AsyncClient | None,
    store: MemoryTokenStore,
    **overrides: object,
) -> ServiceTitanClient:
    return ServiceTitanClient(
        credentials_for(config, credential_id=500),
        client_config(url, **overrides),
        store,
        http=http,
        rate_limiters=RateLimiterRegistry(),
    )


async def test_full_export_and_token_sharing_over_http(
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_http: httpx.AsyncClient,
    real_config: SandboxConfig,
) -> None:
    store = MemoryTokenStore()
    first = _client(sandbox_server, real_config, real_http, store)
    second = _client(sandbox_server, real_config, real_http, store)
    pages = [p async for p in first.export_pages(ExportStream.CUSTOMERS)]
    assert sum(p.record_count for p in pages) == 300
    assert pages[-1].has_more is False
    total = await second.count(ListResource.INVOICES)
    assert total == 900
    counters = await sandbox_admin.counters()
    assert counters["tokens_issued"] == 1
    assert all(page["served"] == 1 for page in counters["pages"])


async def test_401_recovery_over_http(
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_http: httpx.AsyncClient,
    real_config: SandboxConfig,
) -> None:
    client = _client(sandbox_server, real_config, real_http, MemoryTokenStore())
    await client.fetch_export_page(ExportStream.INVOICES)
    await sandbox_admin.post("expire-tokens", {})
    page = await client.fetch_export_page(ExportStream.INVOICES)
    assert page.record_count == 200
    counters = await sandbox_admin.counters()
    assert counters["auth_failures"] == {"expired_token": 1}
    assert counters["tokens_issued"] == 2


async def test_retry_after_header_over_http(
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_http: httpx.AsyncClient,
    real_config: SandboxConfig,
) -> None:
    client = _client(sandbox_server, real_config, real_http, MemoryTokenStore())
    await sandbox_admin.post("faults/force-429", {"count": 1, "retry_after": 12})
    with pytest.raises(RateLimited) as caught:
        await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert caught.value.retry_after == 12.0


async def test_read_timeout_is_retryable(
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_http: httpx.AsyncClient,
    real_config: SandboxConfig,
) -> None:
    client = _client(
        sandbox_server, real_config, real_http, MemoryTokenStore(), read_timeout_seconds=0.3
    )
    await client.fetch_export_page(ExportStream.CUSTOMERS)  # token first, no fault on it
    await sandbox_admin.post("faults", {"timeout_rate": 1.0, "timeout_seconds": 3.0})
    with pytest.raises(RequestTimeout) as caught:
        await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert caught.value.retryable
    assert "did not answer in time" in str(caught.value)


async def test_connection_dropped_mid_body_is_retryable(
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_http: httpx.AsyncClient,
    real_config: SandboxConfig,
) -> None:
    client = _client(sandbox_server, real_config, real_http, MemoryTokenStore())
    await sandbox_admin.post("faults", {"truncate_rate": 1.0, "truncate_mode": "close"})
    with pytest.raises(ConnectionFailed) as caught:
        await client.fetch_export_page(ExportStream.INVOICES)
    assert caught.value.retryable
    await sandbox_admin.post("faults/reset")
    page = await client.fetch_export_page(ExportStream.INVOICES)  # the pool recovered
    assert page.record_count == 200


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_validate_credentials_over_http(
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_http: httpx.AsyncClient,
    real_config: SandboxConfig,
) -> None:
    client = _client(sandbox_server, real_config, real_http, MemoryTokenStore())
    assert (await client.validate_credentials()).verdict == "connected"

    await sandbox_admin.post("revoke", {"client_id": real_config.tenant(TENANT).client_id})
    revoked = await client.validate_credentials()
    assert revoked.verdict == "rejected"
    assert "invalid_client" in revoked.reason

    nowhere = f"http://127.0.0.1:{_closed_port()}"
    down = await _client(nowhere, real_config, real_http, MemoryTokenStore()).validate_credentials()
    assert down.verdict == "unreachable"
    assert isinstance(down.error, ConnectionFailed)
    assert down.reason.startswith("token request: could not reach ServiceTitan")


async def test_process_wide_pool(
    sandbox_server: str, sandbox_admin: SandboxAdmin, real_config: SandboxConfig
) -> None:
    """Clients built without ``http`` share the process pool, which closes and re-opens."""
    store = MemoryTokenStore()
    try:
        first = _client(sandbox_server, real_config, None, store)
        second = _client(sandbox_server, real_config, None, store)
        assert first._http is second._http is shared_http_client()
        await first.fetch_export_page(ExportStream.CUSTOMERS)
        await second.fetch_export_page(ExportStream.CUSTOMERS)
    finally:
        token = await store.load(500)
        if token is not None:
            from tests.servicetitan.support import SECRETS

            SECRETS.add(token.value)
        await close_shared_http_client()
    assert shared_http_client() is not first._http
    await close_shared_http_client()
