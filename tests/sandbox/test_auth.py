"""The token endpoint and every way an API call can fail authentication."""

from __future__ import annotations

import base64

import httpx
import orjson

from sandbox import Sandbox, create_app

from .conftest import APP_KEY, BASE_URL, T1, T2, credentials, get_token, small_config

EXPORT = f"/accounting/v2/tenant/{T1}/export/invoices"


async def test_client_credentials_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/connect/token", data=credentials(T1))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert "tn.acc.invoices:r" in body["scope"]
    assert response.headers["cache-control"] == "no-store"
    claims = orjson.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["tenant"] == str(T1) and claims["client_id"] == f"cid.sandbox-{T1}"
    assert claims["exp"] - claims["iat"] >= 899


async def test_http_basic_client_authentication(client: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"cid.sandbox-{T1}:cs1.sandbox-{T1}".encode()).decode()
    response = await client.post(
        "/connect/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200


async def test_token_endpoint_refusals(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    cases = [
        ({**credentials(T1), "client_secret": "cs1.wrong"}, "invalid_client"),
        ({**credentials(T1), "client_id": "cid.nobody"}, "invalid_client"),
        ({**credentials(T1), "client_secret": ""}, "invalid_client"),
        ({**credentials(T1), "grant_type": "password"}, "unsupported_grant_type"),
        ({**credentials(T1), "grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({k: v for k, v in credentials(T1).items() if k != "grant_type"}, "invalid_request"),
    ]
    for form, error in cases:
        response = await client.post("/connect/token", data=form)
        assert response.status_code == 400, form
        assert response.json() == {"error": error}
    as_json = await client.post("/connect/token", json=credentials(T1))
    assert as_json.status_code == 400 and as_json.json() == {"error": "invalid_request"}
    assert sandbox.counters.token_failures["invalid_client"] == 3
    assert sandbox.counters.tokens_issued == 0


async def test_bearer_and_bare_tokens_are_both_accepted(client: httpx.AsyncClient) -> None:
    token = await get_token(client)
    for authorization in (f"Bearer {token}", token, f"bearer {token}"):
        response = await client.get(
            EXPORT, headers={"Authorization": authorization, "ST-App-Key": APP_KEY}
        )
        assert response.status_code == 200, authorization


async def test_api_refusals(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = await get_token(client)
    other = await get_token(client, T2)
    header, payload, signature = token.split(".")
    forged_claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_claims["tenant"] = str(T2)
    forged = ".".join(
        (
            header,
            base64.urlsafe_b64encode(orjson.dumps(forged_claims)).rstrip(b"=").decode(),
            signature,
        )
    )
    cases = [
        ({"Authorization": f"Bearer {token}"}, 401, "app_key"),
        ({"Authorization": f"Bearer {token}", "ST-App-Key": "ak1.other"}, 401, "app_key"),
        ({"ST-App-Key": APP_KEY}, 401, "missing_token"),
        ({"Authorization": "Bearer ", "ST-App-Key": APP_KEY}, 401, "missing_token"),
        ({"Authorization": "Bearer not-a-jwt", "ST-App-Key": APP_KEY}, 401, "malformed_token"),
        ({"Authorization": f"Bearer {token[:-3]}abc", "ST-App-Key": APP_KEY}, 401, "invalid_token"),
        ({"Authorization": f"Bearer {forged}", "ST-App-Key": APP_KEY}, 401, "invalid_token"),
        ({"Authorization": f"Bearer {other}", "ST-App-Key": APP_KEY}, 403, "wrong_tenant"),
    ]
    for headers, status, reason in cases:
        response = await client.get(EXPORT, headers=headers)
        assert response.status_code == status, (headers, response.text)
        body = response.json()
        assert body["status"] == status and body["traceId"] and body["errors"]
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert sandbox.counters.auth_failures[reason] >= 1, reason
    # A tenant that does not exist: no token can be for it.
    response = await client.get(
        "/accounting/v2/tenant/999/export/invoices",
        headers={"Authorization": token, "ST-App-Key": APP_KEY},
    )
    assert response.status_code == 403


async def test_tokens_expire(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = await get_token(client)
    headers = {"Authorization": token, "ST-App-Key": APP_KEY}
    sandbox.advance_time(899)
    assert (await client.get(EXPORT, headers=headers)).status_code == 200
    sandbox.advance_time(2)
    response = await client.get(EXPORT, headers=headers)
    assert response.status_code == 401
    assert sandbox.counters.auth_failures["expired_token"] == 1
    fresh = await get_token(client)
    assert (
        await client.get(EXPORT, headers={"Authorization": fresh, "ST-App-Key": APP_KEY})
    ).status_code == 200


async def test_configured_ttl_and_extra_app_keys() -> None:
    sandbox = Sandbox(small_config(token_ttl_seconds=60, app_keys={"ak1.a", "ak1.b"}))
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.post("/connect/token", data=credentials(T1))
        assert response.json()["expires_in"] == 60
        token = response.json()["access_token"]
        for key, status in (("ak1.a", 200), ("ak1.b", 200), (APP_KEY, 401)):
            got = await client.get(EXPORT, headers={"Authorization": token, "ST-App-Key": key})
            assert got.status_code == status


async def test_tokens_are_not_valid_across_sandbox_instances(client: httpx.AsyncClient) -> None:
    token = await get_token(client)
    other = Sandbox(small_config())
    transport = httpx.ASGITransport(app=create_app(other))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as second:
        response = await second.get(EXPORT, headers={"Authorization": token, "ST-App-Key": APP_KEY})
        assert response.status_code == 401
