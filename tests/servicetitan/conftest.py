"""Fixtures for the ServiceTitan client tests.

Secret hygiene is checked on every test here: each test's log output (stdlib records at DEBUG,
httpx and httpcore included, and every structlog event) is scanned for the secrets the tests
use and for every access token a token endpoint handed out during the session.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import structlog

from sandbox import Sandbox, SandboxConfig, TenantSpec, create_app
from sandbox.config import DEFAULT_APP_KEY
from servicetitan.client import ServiceTitanClient
from servicetitan.config import ClientConfig, Credentials, EnvironmentUrls
from servicetitan.http import new_http_client
from servicetitan.ratelimit import RateLimiterRegistry
from servicetitan.tokens import TokenStore
from tests.servicetitan.support import (
    SECRETS,
    MemoryTokenStore,
    RecordingTransport,
    SecretRegistry,
    ShiftedClock,
)
from tests.support.processes import SandboxServer, running

TENANT = 2001
SMALL_TENANT = 2002
SANDBOX_URL = "http://sandbox.test"


@pytest.fixture(scope="session")
def secrets() -> SecretRegistry:
    return SECRETS


class CapturedLogs:
    """Everything logged during one test, as text lines (live: read it any time)."""

    def __init__(
        self, caplog: pytest.LogCaptureFixture, events: list[MutableMapping[str, Any]]
    ) -> None:
        self._caplog = caplog
        self._events = events

    def events(self) -> list[MutableMapping[str, Any]]:
        return list(self._events)

    def clear(self) -> None:
        self._events.clear()
        self._caplog.clear()

    def lines(self) -> list[str]:
        lines = [repr(event) for event in self._events]
        for record in self._caplog.records:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" {record.exc_info[1]!r}"
            lines.append(f"{record.name}: {text}")
        return lines


@pytest.fixture(autouse=True)
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[CapturedLogs]:
    """Capture every log line of the test; fail it if a secret or token shows up."""
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        capture = CapturedLogs(caplog, events)
        yield capture
    leaked = {secret for line in capture.lines() for secret in SECRETS.leaks(line)}
    assert not leaked, f"{len(leaked)} secret(s) found in captured log lines"


# --- the sandbox, in process ----------------------------------------------------------------


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """Two tenants; export pages of 200 so every feed of the big tenant spans several pages."""
    values: dict[str, Any] = {
        "tenants": [TenantSpec.make(TENANT, 300, 900), TenantSpec.make(SMALL_TENANT, 40, 100)],
        "export_page_size": 200,
    }
    values.update(overrides)
    config = SandboxConfig(**values)
    for tenant in config.tenants:
        SECRETS.add(tenant.client_id, tenant.client_secret)
    SECRETS.add(*config.app_keys)
    return config


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh sandbox per test: its counters and faults are the test's own."""
    return Sandbox(sandbox_config())


@pytest.fixture
async def sandbox_http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """The client's HTTP pool, wired to the sandbox app in process (token recording on)."""
    client = new_http_client(
        transport=RecordingTransport(httpx.ASGITransport(app=create_app(sandbox)))
    )
    try:
        yield client
    finally:
        await client.aclose()


_credential_ids = itertools.count(1)


def credentials_for(
    sandbox_or_config: Sandbox | SandboxConfig,
    tenant_id: int = TENANT,
    *,
    secret: str | None = None,
    credential_id: int | None = None,
) -> Credentials:
    config = (
        sandbox_or_config.config if isinstance(sandbox_or_config, Sandbox) else sandbox_or_config
    )
    spec = config.tenant(tenant_id)
    return Credentials(
        credential_id=credential_id if credential_id is not None else next(_credential_ids),
        tenant_id=tenant_id,
        environment="integration",
        client_id=spec.client_id,
        client_secret=secret if secret is not None else spec.client_secret,
    )


def client_config(base_url: str = SANDBOX_URL, **overrides: Any) -> ClientConfig:
    urls = EnvironmentUrls(base_url, base_url)
    values: dict[str, Any] = {"app_key": DEFAULT_APP_KEY, "integration": urls, "production": urls}
    values.update(overrides)
    return ClientConfig(**values)


ClientFactory = Callable[..., ServiceTitanClient]


@pytest.fixture
def make_client(sandbox: Sandbox, sandbox_http: httpx.AsyncClient) -> ClientFactory:
    """Build clients over the in-process sandbox; by default they share one token store."""
    shared_store = MemoryTokenStore()
    limiters = RateLimiterRegistry()
    default_credentials = credentials_for(sandbox)

    def factory(
        credentials: Credentials | None = None,
        *,
        store: TokenStore | None = None,
        now: ShiftedClock | None = None,
        **config: Any,
    ) -> ServiceTitanClient:
        kwargs: dict[str, Any] = {}
        if now is not None:
            kwargs["now"] = now
        return ServiceTitanClient(
            credentials or default_credentials,
            client_config(**config),
            store if store is not None else shared_store,
            http=sandbox_http,
            rate_limiters=limiters,
            **kwargs,
        )

    return factory


# --- the sandbox over real HTTP (one server process per session) ------------------------------

REAL_TENANTS = f"{TENANT}:300:900,{SMALL_TENANT}:40:100"


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m sandbox serve`` on 127.0.0.1 and a free port; yields its base URL."""
    server = SandboxServer(
        tenants=REAL_TENANTS, workdir=tmp_path_factory.mktemp("sandbox"), export_page_size=200
    )
    with running(server):
        yield server.start(ready_timeout=30).url


class SandboxAdmin:
    """The running server's ``/_sandbox`` admin API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._client.post(f"/_sandbox/{path}", json=body or {})
        response.raise_for_status()
        return response.json()

    async def counters(self) -> dict[str, Any]:
        response = await self._client.get("/_sandbox/counters")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture
async def sandbox_admin(sandbox_server: str) -> AsyncIterator[SandboxAdmin]:
    """Admin access to the session's server, reset to its seeded state for this test."""
    async with httpx.AsyncClient(base_url=sandbox_server, timeout=30) as client:
        admin = SandboxAdmin(client)
        await admin.post("reset")
        yield admin


@pytest.fixture
async def real_http() -> AsyncIterator[httpx.AsyncClient]:
    """A client pool over real sockets (token recording on)."""
    client = new_http_client(transport=RecordingTransport(httpx.AsyncHTTPTransport()))
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def real_config(sandbox_server: str) -> SandboxConfig:
    """The server's configuration as this process knows it (for credentials)."""
    return sandbox_config(
        tenants=[TenantSpec.make(TENANT, 300, 900), TenantSpec.make(SMALL_TENANT, 40, 100)]
    )
