"""Every fault knob: errors, hangs, truncation, latency, forced 429s, rate limit, token faults."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import orjson
import pytest

from sandbox import Sandbox, create_app

from .conftest import APP_KEY, BASE_URL, T1, T2, auth_headers, credentials, get_token, small_config

EXPORT = f"/accounting/v2/tenant/{T1}/export/invoices"
EXPORT_T2 = f"/accounting/v2/tenant/{T2}/export/invoices"
CUSTOMERS = f"/crm/v2/tenant/{T1}/export/customers"


async def statuses(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int
) -> list[int]:
    return [(await client.get(url, headers=headers)).status_code for _ in range(n)]


async def test_error_rate_and_statuses(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(error_rate=1.0, error_statuses=(503,))
    response = await client.get(EXPORT, headers=headers)
    assert response.status_code == 503 and response.json()["status"] == 503
    # The token endpoint is outside the default scope.
    assert (await client.post("/connect/token", data=credentials(T1))).status_code == 200
    sandbox.set_faults(error_rate=0.5, error_statuses=(500, 502, 503))
    seen = await statuses(client, EXPORT, headers, 60)
    assert set(seen) == {200, 500, 502, 503}
    assert 15 <= seen.count(200) <= 45
    assert sandbox.counters.faults["error_500"] + sandbox.counters.faults["error_502"] >= 1
    sandbox.reset_faults()
    assert set(await statuses(client, EXPORT, headers, 5)) == {200}


async def test_random_faults_are_deterministic_given_the_seed() -> None:
    async def run(seed: int) -> list[int]:
        sandbox = Sandbox(small_config(seed=seed))
        transport = httpx.ASGITransport(app=create_app(sandbox))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            headers = await auth_headers(client)
            sandbox.set_faults(error_rate=0.3)
            return await statuses(client, EXPORT, headers, 40)

    first, second, other = await run(42), await run(42), await run(43)
    assert first == second
    assert first != other


async def test_fault_scope_by_tenant_and_endpoint(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    h1, h2 = await auth_headers(client, T1), await auth_headers(client, T2)
    sandbox.set_faults(error_rate=1.0, tenant_id=T1)
    assert all(s in (500, 502, 503) for s in await statuses(client, EXPORT, h1, 3))
    assert await statuses(client, EXPORT_T2, h2, 3) == [200, 200, 200]
    sandbox.set_faults(tenant_id=None, endpoints=["export_customers"])
    assert (await client.get(EXPORT, headers=h1)).status_code == 200
    assert (await client.get(CUSTOMERS, headers=h1)).status_code >= 500
    sandbox.set_faults(endpoints=["token"])
    assert (await client.post("/connect/token", data=credentials(T1))).status_code >= 500
    assert (await client.get(CUSTOMERS, headers=h1)).status_code == 200
    with pytest.raises(ValueError):
        sandbox.set_faults(endpoints=["nope"])
    with pytest.raises(ValueError):
        sandbox.set_faults(error_rate=1.5)
    with pytest.raises(ValueError):
        sandbox.set_faults(bogus=1)


async def test_timeout_hangs_then_answers(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(timeout_rate=1.0, timeout_seconds=0.3)
    start = time.monotonic()
    response = await client.get(EXPORT, headers=headers)
    assert response.status_code == 200 and time.monotonic() - start >= 0.3
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.get(EXPORT, headers=headers), timeout=0.1)
    assert sandbox.counters.faults["timeout"] == 2


async def test_truncated_json_body(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="json")
    response = await client.get(EXPORT, headers=headers)
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sandbox.counters.faults["truncate_json"] == 1
    assert sandbox.counters.refetched(served=False) == {}
    assert sandbox.counters.pages_served[(T1, "export_invoices", "")] == 0


async def test_truncated_connection_in_process(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="close")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(EXPORT, headers=headers)
    assert sandbox.counters.faults["truncate_close"] == 1


async def test_added_latency(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(latency_seconds=0.2, latency_jitter_seconds=0.05)
    start = time.monotonic()
    assert (await client.get(EXPORT, headers=headers)).status_code == 200
    assert 0.2 <= time.monotonic() - start < 2
    assert sandbox.counters.faults["latency"] == 1


async def test_forced_429_by_count_and_window(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.force_429(count=2, retry_after=3)
    for _ in range(2):
        response = await client.get(EXPORT, headers=headers)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"
        # servicepytan's parser: int(title.split(" ")[-2])
        assert int(response.json()["title"].split(" ")[-2]) == 3
    assert (await client.get(EXPORT, headers=headers)).status_code == 200
    sandbox.force_429(seconds=30, retry_after=5, tenant_id=T1, endpoint="export_invoices")
    assert (await client.get(EXPORT, headers=headers)).status_code == 429
    assert (await client.get(CUSTOMERS, headers=headers)).status_code == 200
    sandbox.advance_time(31)
    assert (await client.get(EXPORT, headers=headers)).status_code == 200
    assert sandbox.counters.rate_limited == 3
    assert sandbox.counters.faults["forced_429"] == 3


async def test_rate_limit_per_app_key_and_tenant() -> None:
    sandbox = Sandbox(small_config(rate_limit_per_second=5.0, app_keys={APP_KEY, "ak1.two"}))
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        headers = await auth_headers(client)
        seen = await statuses(client, EXPORT, headers, 8)
        assert seen[:5] == [200] * 5 and 429 in seen[5:]
        limited = await client.get(EXPORT, headers=headers)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "Rate limit is exceeded" in limited.json()["title"]
        # Other tenant, other app key: separate buckets.
        assert (
            await client.get(EXPORT_T2, headers=await auth_headers(client, T2))
        ).status_code == 200
        other_key = {**headers, "ST-App-Key": "ak1.two"}
        assert (await client.get(EXPORT, headers=other_key)).status_code == 200
        # Tokens are not rate limited; the bucket refills with time.
        assert (await client.post("/connect/token", data=credentials(T1))).status_code == 200
        sandbox.advance_time(1.0)
        assert (await client.get(EXPORT, headers=headers)).status_code == 200
        # The knob can change at run time (0 = off).
        sandbox.set_faults(rate_limit_per_second=0)
        assert set(await statuses(client, EXPORT, headers, 20)) == {200}
        assert sandbox.counters.rate_limited_by_tenant[T1] >= 3


async def test_rate_limit_burst(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    sandbox.set_faults(rate_limit_per_second=1.0, rate_limit_burst=3.0)
    seen = await statuses(client, EXPORT, headers, 5)
    assert seen == [200, 200, 200, 429, 429]
    limited = await client.get(EXPORT, headers=headers)
    assert limited.headers["retry-after"] == "1"
    sandbox.advance_time(1.0)
    assert await statuses(client, EXPORT, headers, 2) == [200, 429]


def test_default_rate_limit_is_servicetitans() -> None:
    from sandbox import SandboxConfig, TenantSpec

    sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(1, 1, 1)]))
    assert sandbox.rate_limit() == (60.0, 60.0)


async def test_token_ttl_override_and_expiry(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    sandbox.set_faults(token_ttl_seconds=5)
    response = await client.post("/connect/token", data=credentials(T1))
    assert response.json()["expires_in"] == 5
    headers = {"Authorization": response.json()["access_token"], "ST-App-Key": APP_KEY}
    assert (await client.get(EXPORT, headers=headers)).status_code == 200
    sandbox.advance_time(6)
    assert (await client.get(EXPORT, headers=headers)).status_code == 401


async def test_expire_tokens_now(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    h1, h2 = await auth_headers(client, T1), await auth_headers(client, T2)
    sandbox.expire_tokens(f"cid.sandbox-{T1}")
    assert (await client.get(EXPORT, headers=h1)).status_code == 401
    assert (await client.get(EXPORT_T2, headers=h2)).status_code == 200
    sandbox.expire_tokens()
    assert (await client.get(EXPORT_T2, headers=h2)).status_code == 401
    assert (await client.get(EXPORT, headers=await auth_headers(client, T1))).status_code == 200


async def test_revoked_credentials(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    token = await get_token(client)
    headers = {"Authorization": token, "ST-App-Key": APP_KEY}
    sandbox.revoke(f"cid.sandbox-{T1}")
    denied = await client.post("/connect/token", data=credentials(T1))
    assert denied.status_code == 400 and denied.json() == {"error": "invalid_client"}
    response = await client.get(EXPORT, headers=headers)
    assert response.status_code == 401
    assert sandbox.counters.auth_failures["revoked"] == 1
    assert (await client.post("/connect/token", data=credentials(T2))).status_code == 200
    sandbox.restore(f"cid.sandbox-{T1}")
    assert (await client.get(EXPORT, headers=headers)).status_code == 200


async def test_faults_never_break_the_server(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    """A storm of every fault at once, then a clean export still works."""
    headers = await auth_headers(client)
    sandbox.set_faults(
        error_rate=0.3, timeout_rate=0.1, timeout_seconds=0.01, truncate_rate=0.2,
        truncate_mode="close", latency_seconds=0.001,
    )  # fmt: skip
    outcomes: set[int | str] = set()
    for _ in range(40):
        try:
            outcomes.add((await client.get(EXPORT, headers=headers)).status_code)
        except httpx.RemoteProtocolError:
            outcomes.add("dropped")
    assert {200, "dropped"} <= outcomes and outcomes & {500, 502, 503}
    sandbox.reset_faults()
    from .conftest import export_all

    records, _, _ = await export_all(client, "invoices", headers)
    assert len(records) == 400
