"""The production token store: PostgreSQL, encrypted, shared by every worker of a credential.

Two workers — each with its own event loop, connection pool and HTTP client, so nothing in
process memory is shared and only PostgreSQL's advisory lock can keep them apart — must share
one token, and concurrent refreshes must reach ServiceTitan's token endpoint once.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core.crypto import SecretBox
from db.database import Database
from db.token_store import DatabaseTokenStore
from sandbox.app import create_app
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from servicetitan.client import ServiceTitanClient
from servicetitan.config import Credentials
from servicetitan.pages import ExportStream
from servicetitan.ratelimit import RateLimiterRegistry
from servicetitan.tokens import AccessToken
from tests.sync.harness import SyncHarness, sandbox_client_config

TENANT = 1001


def _worker(
    database_url: str,
    box: SecretBox,
    app: Any,
    credentials: Credentials,
    start: threading.Barrier,
    calls: int,
) -> None:
    """One "worker process": its own event loop, connection pool and HTTP client."""

    async def work() -> None:
        pool = Database(database_url, pool_size=4)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        client = ServiceTitanClient(
            credentials,
            sandbox_client_config(),
            DatabaseTokenStore(pool, box),
            http=http,
            rate_limiters=RateLimiterRegistry(),
        )
        try:
            start.wait(timeout=30)
            pages = await asyncio.gather(
                *(client.fetch_export_page(ExportStream.CUSTOMERS) for _ in range(calls))
            )
            assert all(page.record_count > 0 for page in pages)
        finally:
            await http.aclose()
            await pool.close()

    asyncio.run(work())


async def _two_workers(
    harness: SyncHarness, database_url: str, app: Any, credentials: Credentials
) -> None:
    start = threading.Barrier(2)
    await asyncio.gather(
        *(
            asyncio.to_thread(_worker, database_url, harness.worker_box, app, credentials, start, 5)
            for _ in range(2)
        )
    )


async def test_workers_share_one_token_and_refresh_once_under_concurrency(
    harness: SyncHarness, database_url: str
) -> None:
    credential = await harness.add_tenant(TENANT)
    spec = harness.sandbox.config.tenant(TENANT)
    sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(TENANT, 50, 50)]))
    sandbox.set_faults(latency_seconds=0.05)  # a token request that takes a moment, like ST's
    app = create_app(sandbox)
    credentials = Credentials(credential, TENANT, "production", spec.client_id, spec.client_secret)

    await _two_workers(harness, database_url, app, credentials)
    assert sandbox.counters.tokens_issued == 1  # two workers, ten calls, one token request

    stored = harness.rows(
        "SELECT access_token FROM servicetitan_credentials WHERE id = %s", credential
    )[0][0]
    assert stored and stored.startswith("gcm1.")  # a ciphertext (core.crypto), not the token
    pool = Database(database_url, pool_size=1)
    try:
        store = DatabaseTokenStore(pool, harness.worker_box)
        token = await store.load(credential)
        assert token is not None and token.value not in stored
        # Close to expiry: both workers want a new token at once; one request serves both.
        await store.save(
            credential, AccessToken(token.value, datetime.now(UTC) + timedelta(seconds=30))
        )
    finally:
        await pool.close()
    await _two_workers(harness, database_url, app, credentials)
    assert sandbox.counters.tokens_issued == 2
