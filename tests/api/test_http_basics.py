"""What the API does before any rule of the service layer: probes, unknown routes and methods,
validation, the body size limit, CORS (off by default) and the failed-authentication limit.

Every refusal is a problem document; a rejected body is never echoed (it may hold a secret).
The rate limit runs on a server of its own with a limit of two, so it locks out nobody else.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.api.server import PREFIX, ApiClient, ApiServer, assert_problem
from tests.api.world import World

MAX_BODY = 65536  # API_MAX_BODY_BYTES's default


def test_health_and_readiness_need_no_token(client_for: Callable[[str], ApiClient]) -> None:
    anonymous = client_for("no token")
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "up", "temporal": "up"}


def test_unknown_routes_and_methods_are_problems(client_for: Callable[[str], ApiClient]) -> None:
    admin = client_for("admin")
    assert_problem(admin.get(f"{PREFIX}/nothing-here"), 404)
    assert_problem(admin.delete(f"{PREFIX}/dashboard"), 405)


def test_invalid_input_is_a_422_problem_that_never_echoes_a_value(
    client_for: Callable[[str], ApiClient], world: World
) -> None:
    secret = f"cs1.{secrets.token_hex(600)}"  # longer than allowed
    response = client_for("admin").post(
        f"{PREFIX}/credentials",
        json_body={
            "tenantId": "4103",
            "clientId": "cid.x",
            "clientSecret": secret,
            "environment": "integration",
            "companyId": world.company_a,
        },
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.clientSecret"]
    assert secret[:40] not in response.text


def test_a_body_over_the_limit_is_refused_with_413(
    client_for: Callable[[str], ApiClient],
) -> None:
    admin = client_for("admin")
    big = b'{"syncType": "' + b"x" * MAX_BODY + b'"}'
    declared = admin.post(
        f"{PREFIX}/sync/1", content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(declared, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"syncType": "'
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    streamed = httpx.post(
        f"{admin.base_url}{PREFIX}/sync/1",
        content=chunks(),
        headers={"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert_problem(streamed, 413)


def test_cors_is_off_unless_origins_are_configured(client_for: Callable[[str], ApiClient]) -> None:
    admin = client_for("admin")
    origin = {"Origin": "https://evil.example"}
    read = admin.get(f"{PREFIX}/dashboard", headers=origin)
    assert read.status_code == 200
    preflight = admin.request(
        "OPTIONS",
        f"{PREFIX}/credentials",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    for response in (read, preflight):
        assert not any(h.lower().startswith("access-control-") for h in response.headers)


@pytest.fixture(scope="module")
def strict_server(
    api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The session's API with API_AUTH_FAILURES_PER_MINUTE=2."""
    env = {**api_env, "API_AUTH_FAILURES_PER_MINUTE": "2"}
    server = ApiServer(env, tmp_path_factory.mktemp("strict"), name="strict-api")
    try:
        yield server.start()
    finally:
        server.stop()


def test_failed_authentications_from_one_address_are_limited(
    strict_server: ApiServer, world: World
) -> None:
    def get(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{strict_server.url}{PREFIX}/dashboard", headers=headers, timeout=30)

    for _ in range(3):
        assert_problem(get(None), 401)  # no token at all is not a failed attempt
    for _ in range(2):
        assert_problem(get(world.tokens["bad token"]), 401)
    limited = get("sts_" + secrets.token_urlsafe(32))
    problem = assert_problem(limited, 429)
    assert problem["type"].endswith("/too-many-requests")
    assert int(limited.headers["Retry-After"]) > 0
