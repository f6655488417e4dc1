"""Tokens against the in-process sandbox: caching, sharing, refresh, single flight, 401s."""

from __future__ import annotations

import asyncio

import pytest

from sandbox import Sandbox
from servicetitan.config import Credentials
from servicetitan.errors import CredentialsRejected
from servicetitan.pages import ExportStream, ListResource
from servicetitan.tokens import AccessToken
from tests.servicetitan.conftest import SMALL_TENANT, TENANT, ClientFactory, credentials_for
from tests.servicetitan.support import MemoryTokenStore, ShiftedClock


async def test_token_is_cached_and_shared_by_two_clients(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    first, second = make_client(), make_client()
    assert first is not second
    await first.fetch_export_page(ExportStream.CUSTOMERS)
    await second.fetch_export_page(ExportStream.INVOICES)
    await first.count(ListResource.CUSTOMERS)
    assert sandbox.counters.tokens_issued == 1
    assert sandbox.counters.token_requests == 1
    assert sum(sandbox.counters.requests.values()) == 4  # 1 token + 3 API calls


class CountingStore(MemoryTokenStore):
    """Counts reads of the shared store (``load``), not of this process's memory."""

    loads = 0

    async def load(self, credential_id: int) -> AccessToken | None:
        self.loads += 1
        return await super().load(credential_id)


async def test_a_fresh_token_this_process_saw_costs_no_store_read(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    store = CountingStore()
    client = make_client(store=store)
    await client.fetch_export_page(ExportStream.CUSTOMERS)  # requests the token, saves it
    loads = store.loads
    await client.fetch_export_page(ExportStream.INVOICES)
    await make_client(store=store).count(ListResource.CUSTOMERS)
    assert store.loads == loads
    assert sandbox.counters.tokens_issued == 1


async def test_separate_stores_do_not_share(sandbox: Sandbox, make_client: ClientFactory) -> None:
    """Control for the test above: sharing comes from the store, not from luck."""
    await make_client(store=MemoryTokenStore()).fetch_export_page(ExportStream.CUSTOMERS)
    await make_client(store=MemoryTokenStore()).fetch_export_page(ExportStream.CUSTOMERS)
    assert sandbox.counters.tokens_issued == 2


async def test_proactive_refresh_near_expiry(sandbox: Sandbox, make_client: ClientFactory) -> None:
    clock = ShiftedClock()
    client = make_client(now=clock)  # threshold 300 s, sandbox tokens live 900 s
    await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert sandbox.counters.tokens_issued == 1

    # 400 s left: still above the threshold, the cached token is used.
    clock.advance(500)
    sandbox.advance_time(500)
    await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert sandbox.counters.tokens_issued == 1

    # 299 s left: a new token is requested *before* the call, which therefore never fails.
    clock.advance(101)
    sandbox.advance_time(101)
    await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert sandbox.counters.tokens_issued == 2
    assert sandbox.counters.auth_failures == {}


async def test_concurrent_refreshes_collapse_into_one_request(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    # A slow token endpoint widens the window in which every caller finds no token.
    sandbox.set_faults(latency_seconds=0.1, endpoints=["token"])
    clients = [make_client() for _ in range(4)]
    pages = await asyncio.gather(
        *(clients[i % 4].fetch_export_page(ExportStream.CUSTOMERS) for i in range(24))
    )
    assert len(pages) == 24
    assert sandbox.counters.token_requests == 1

    # Expire the token on the server: all 24 calls get 401 and want a new token at once.
    sandbox.expire_tokens()
    await asyncio.gather(
        *(clients[i % 4].fetch_export_page(ExportStream.CUSTOMERS) for i in range(24))
    )
    # How many calls still carried the old token depends on scheduling (calls that start
    # after the refresh use the new one); however many saw the expiry, one new token serves all.
    assert 1 <= sandbox.counters.auth_failures["expired_token"] <= 24
    assert sandbox.counters.token_requests == 2


async def test_401_invalidates_the_token_and_retries_once(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    store = MemoryTokenStore()
    client = make_client(store=store)
    await client.fetch_export_page(ExportStream.INVOICES)
    old = await store.load(client.credentials.credential_id)

    sandbox.expire_tokens(client.credentials.client_id)  # server-side: token no longer valid
    page = await client.fetch_export_page(ExportStream.INVOICES)

    assert page.record_count > 0
    assert sandbox.counters.auth_failures == {"expired_token": 1}
    assert sandbox.counters.tokens_issued == 2
    new = await store.load(client.credentials.credential_id)
    assert old is not None and new is not None and new.value != old.value


async def test_persistent_401_is_not_retried_forever(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    """Revoked credentials: the API says 401, and the token endpoint then says invalid_client."""
    client = make_client()
    await client.fetch_export_page(ExportStream.CUSTOMERS)
    sandbox.revoke(client.credentials.client_id)
    with pytest.raises(CredentialsRejected) as caught:
        await client.fetch_export_page(ExportStream.CUSTOMERS)
    assert caught.value.reason == "invalid_client"
    assert not caught.value.retryable
    assert sandbox.counters.auth_failures == {"revoked": 1}
    assert sandbox.counters.token_failures == {"invalid_client": 1}


async def test_wrong_tenant_403_is_rejected_after_one_retry(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    """A credential configured with the wrong tenant id: 403 twice, then a clear error."""
    spec = sandbox.config.tenant(TENANT)
    wrong = Credentials(77, SMALL_TENANT, "integration", spec.client_id, spec.client_secret)
    with pytest.raises(CredentialsRejected) as caught:
        await make_client(wrong).fetch_export_page(ExportStream.CUSTOMERS)
    assert caught.value.status == 403
    assert caught.value.reason == "forbidden"
    assert sandbox.counters.auth_failures == {"wrong_tenant": 2}
    assert "tenant 2002" in str(caught.value)


async def test_bad_secret_is_rejected_with_a_readable_message(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    creds = credentials_for(sandbox, secret="cs1.not-the-secret")
    with pytest.raises(CredentialsRejected) as caught:
        await make_client(creds).fetch_export_page(ExportStream.INVOICES)
    error = caught.value
    assert not error.retryable
    assert error.reason == "invalid_client"
    assert str(error) == (
        "ServiceTitan rejected the client id/secret (invalid_client) on "
        "POST /connect/token (tenant 2001)"
    )
    assert "cs1.not-the-secret" not in repr(error)
    # No API call was attempted with no token.
    assert sandbox.counters.requests == {"token": 1}
