"""No client secret and no API token in clear anywhere: responses, logs, audit, the database,
workflow histories. Runs last in tests/api (file order), so it covers the whole session.

Needles: every sandbox tenant's client secret (new each session), a rotated secret made
here, and every API token of the session (the never-issued one too: a refused token must not
be logged either). The test first drives a credential's life through the API as company A's
admin (create, refused create, read, list, rotate to a wrong secret, test, rotate back, test,
sync to completion, status, history, delete), then searches: every response any API client
of the session received, the log files of the API servers and the worker, every text column
of the database (the audit log included) and every workflow history on the Temporal server
(payloads decoded).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from temporalio.client import Client

from tests.api.server import PREFIX, ApiClient, ApiServer, Transcript, assert_problem
from tests.api.world import TENANT_SPARE, TENANTS, World, client_id_of, secret_of
from tests.reliability.support import database_cells, database_leaks, workflow_histories
from tests.support.processes import WorkerProcess


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text[:400])
    return response.json()


def _credential_life(client: ApiClient, world: World, rotated: str) -> None:
    body = {
        "tenantId": str(TENANT_SPARE),
        "clientId": client_id_of(TENANT_SPARE),
        "clientSecret": secret_of(TENANT_SPARE),
        "environment": "integration",
        "companyId": world.company_a,
    }
    cid = _ok(client.post(f"{PREFIX}/credentials", json_body=body), 201)["id"]
    try:
        assert_problem(client.post(f"{PREFIX}/credentials", json_body=body), 409)  # a duplicate
        assert_problem(
            client.post(f"{PREFIX}/credentials", json_body={**body, "environment": "nowhere"}), 422
        )
        _ok(client.get(f"{PREFIX}/credentials/{cid}"))
        _ok(client.get(f"{PREFIX}/credentials"))
        _ok(client.put(f"{PREFIX}/credentials/{cid}", json_body={"clientSecret": rotated}))
        assert _ok(client.post(f"{PREFIX}/credentials/{cid}/test"))["connected"] is False
        _ok(
            client.put(
                f"{PREFIX}/credentials/{cid}", json_body={"clientSecret": body["clientSecret"]}
            )
        )
        assert _ok(client.post(f"{PREFIX}/credentials/{cid}/test"))["connected"] is True
        _ok(client.post(f"{PREFIX}/sync/{cid}", json_body={"syncType": "both"}), 202)
        deadline = time.monotonic() + 120
        while True:
            status = _ok(client.get(f"{PREFIX}/sync/status/{cid}"))
            if status["running"] is None and status["lastSync"] is not None:
                break
            assert time.monotonic() < deadline, "the sync did not finish"
            time.sleep(0.25)
        assert status["lastSync"]["status"] == "completed", status
        _ok(client.get(f"{PREFIX}/sync/history", params={"credentialId": cid}))
        _ok(client.get(f"{PREFIX}/audit", params={"credentialId": cid}))
        _ok(client.delete(f"{PREFIX}/credentials/{cid}"))
    except BaseException:
        client.delete(f"{PREFIX}/credentials/{cid}", params={"force": "true"})
        raise


@pytest.mark.timeout(240)
async def test_no_secret_or_token_in_responses_logs_audit_database_or_histories(
    world: World,
    client_for: Callable[[str], ApiClient],
    transcript: Transcript,
    api_server: ApiServer,
    api_worker: WorkerProcess,
    temporal_client: Client,
    api_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    rotated = f"cs1.rotated-{secrets.token_hex(16)}"
    _credential_life(client_for("company_admin"), world, rotated)
    for identity in ("bad token", "expired token", "revoked token"):
        assert_problem(client_for(identity).get(f"{PREFIX}/dashboard"), 401)

    needles = {secret_of(tenant): f"the client secret of tenant {tenant}" for tenant, *_ in TENANTS}
    needles[rotated] = "the rotated client secret"
    needles.update({token: f"the API token of {label!r}" for label, token in world.tokens.items()})
    leaks: list[str] = []

    def scan(text: str, place: str) -> None:
        leaks.extend(f"{label} in {place}" for needle, label in needles.items() if needle in text)

    # Responses: every answer the session's clients got, this test's included.
    responses = transcript.text()
    assert f"{PREFIX}/credentials" in responses and '"connected":true' in responses
    scan(responses, "an API response")

    # Logs: this stack's API server and worker, and the other API servers of the session
    # (the fuzzed one, the rate-limited one) when they ran. The sandbox plays ServiceTitan.
    server_log, worker_log = api_server.logs(), api_worker.logs()
    assert "api serving" in server_log and "worker polling" in worker_log
    assert server_log.count('"uvicorn.access"') >= 15, "no access log: the scan would see little"
    scan(server_log, "the API server's log")
    scan(worker_log, "the worker's log")
    base = tmp_path_factory.getbasetemp()
    for path in [*base.glob("fuzz*/*.log"), *base.glob("strict*/*.log")]:
        scan(path.read_text(errors="replace"), f"the log {path.name}")

    # The audit log, then every text column of the database.
    database_url = api_env["DATABASE_URL"]
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT actor, action, details::text FROM audit_log").fetchall()
    actions = {row[1] for row in rows}
    assert {"credential.created", "credential.updated", "credential.tested",
            "credential.deleted", "sync.requested"} <= actions, actions  # fmt: skip
    assert any(row[0].startswith("token:") for row in rows), "no write audited as a token"
    scan("\n".join(" ".join(row) for row in rows), "the audit log")
    assert database_cells(database_url) > 1000
    leaks.extend(f"{label} in {column}" for label, column in database_leaks(database_url, needles))

    # Every workflow history on the Temporal server, payloads decoded.
    histories = 0
    async for name, text in workflow_histories(temporal_client):
        histories += 1
        scan(text, f"the history of {name}")
    assert histories >= 3

    assert leaks == [], "\n".join(sorted(set(leaks)))
