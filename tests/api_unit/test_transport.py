"""Authentication, problem documents, limits and probes of the API app."""

from __future__ import annotations

import httpx

from api.app import create_app
from core.settings import Settings
from services.context import ServiceContext

PROBLEMS = "https://servicetitan-sync.dev/problems/"
CREDENTIALS = "/api/servicetitan/credentials"


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEMS + kind and body["status"] == status
    assert body["title"] and body["instance"] == response.request.url.path
    return body  # type: ignore[no-any-return]


async def test_probes_answer_without_a_token_and_report_temporal_down(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "up", "temporal": "down"}


async def test_no_token_and_bad_tokens_are_401_then_429(api: httpx.AsyncClient) -> None:
    missing = _problem(await api.get(CREDENTIALS), 401, "unauthorized")
    assert "Bearer" in str(missing["detail"])
    for _ in range(3):
        bad = await api.get(CREDENTIALS, headers={"Authorization": "Bearer sts_nope"})
        _problem(bad, 401, "unauthorized")
        assert bad.headers["www-authenticate"] == "Bearer"
    limited = await api.get(CREDENTIALS, headers={"Authorization": "Bearer sts_nope"})
    _problem(limited, 429, "too-many-requests")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # A missing token is not a guess: still 401, not counted.
    _problem(await api.get(CREDENTIALS), 401, "unauthorized")


async def test_unknown_route_wrong_method_and_large_body_are_problems(
    api: httpx.AsyncClient, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    _problem(await api.get("/api/servicetitan/nothing", headers=auth), 404, "not-found")
    _problem(await api.patch(CREDENTIALS, headers=auth), 405, "method-not-allowed")
    big = {"tenantId": "1", "clientId": "x" * 4000}
    _problem(await api.post(CREDENTIALS, json=big, headers=auth), 413, "payload-too-large")


async def test_validation_errors_name_fields_but_never_echo_values(
    api: httpx.AsyncClient, admin_token: str
) -> None:
    secret = "cs1.never-echo-this-secret"
    response = await api.post(
        CREDENTIALS,
        json={"tenantId": "1002", "clientSecret": secret, "companyId": "x"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    body = _problem(response, 422, "validation")
    fields = {error["field"] for error in body["errors"]}  # type: ignore[attr-defined]
    assert {"body.clientId", "body.environment", "body.companyId"} <= fields
    assert secret not in response.text


async def test_a_missing_credential_is_a_not_found_problem(
    api: httpx.AsyncClient, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    body = _problem(await api.get(f"{CREDENTIALS}/4242", headers=auth), 404, "not-found")
    assert body["detail"] == "no credential with id 4242"
    _problem(await api.get(f"{CREDENTIALS}/99999999999", headers=auth), 422, "validation")


async def test_values_the_database_cannot_take_are_422_not_500(
    api: httpx.AsyncClient, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    nul = await api.get("/api/servicetitan/audit", params={"action": "a\x00b"}, headers=auth)
    _problem(nul, 422, "invalid")
    edge = await api.get(
        "/api/servicetitan/sync/history",
        params={"since": "0001-01-01T00:00:00+14:00", "until": "2020-01-01T00:00:00Z"},
        headers=auth,
    )
    _problem(edge, 422, "validation")
    naive = await api.get(
        "/api/servicetitan/sync/history", params={"since": "2020-01-01T00:00:00"}, headers=auth
    )
    _problem(naive, 422, "validation")


async def test_cors_headers_only_for_configured_origins(
    api: httpx.AsyncClient, api_settings: Settings, context: ServiceContext
) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    closed = await api.options(CREDENTIALS, headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    settings = api_settings.model_copy(update={"api_cors_origins": "https://app.example.com"})
    app = create_app(settings, context=context)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as open_,
    ):
        allowed = await open_.options(CREDENTIALS, headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        other = await open_.options(
            CREDENTIALS, headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
