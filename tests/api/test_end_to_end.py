"""A company admin's whole path through the API, and what its company user may and may not do.

Company C starts empty. Its admin reads the form's metadata, onboards a credential for a
sandbox tenant, tests it, starts a sync, asks for a second one while it runs (409 naming the
running sync, nothing started), polls the status through live progress to completion, and
reads history and dashboard; each write is in the audit log under the token's identity (and a
write with the platform's JWT under its subject). The company user of C reads all of it and is
refused every write with 403. Real processes throughout: the API server, the worker, the
sandbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.server import PREFIX, ApiClient, assert_problem
from tests.api.world import TENANT_SPARE, World, client_id_of, secret_of
from tests.support.processes import SandboxServer

SYNC_TIMEOUT = 120.0


def _ok(response: Any, status: int = 200) -> Any:
    request = response.request
    assert response.status_code == status, (
        f"{request.method} {request.url}: {response.status_code} {response.text[:500]}"
    )
    return response.json()


@pytest.mark.timeout(240)
async def test_a_company_admin_onboards_syncs_and_watches_and_its_user_only_reads(
    world: World, client_for: Callable[[str], ApiClient], api_sandbox: SandboxServer
) -> None:
    admin, user = client_for("company_admin C"), client_for("company_user C")

    # The form: what the admin and the user may do.
    assert _ok(admin.get(f"{PREFIX}/credentials/metadata"))["canManage"] is True
    user_meta = _ok(user.get(f"{PREFIX}/credentials/metadata"))
    assert user_meta["canManage"] is False and user_meta["companyIds"] == [world.company_c]

    # Onboard: the secret goes in, never comes out.
    body = {
        "tenantId": str(TENANT_SPARE),
        "clientId": client_id_of(TENANT_SPARE),
        "clientSecret": secret_of(TENANT_SPARE),
        "environment": "production",
        "companyId": world.company_c,
    }
    created = admin.post(f"{PREFIX}/credentials", json_body=body)
    credential = _ok(created, 201)
    assert secret_of(TENANT_SPARE) not in created.text
    assert credential["clientId"] == "cid.…4103" and credential["company"]["id"] == world.company_c
    cid = credential["id"]
    try:
        await _journey(world, admin, user, client_for("jwt company_admin C"), api_sandbox, cid)
    finally:
        await world.discard(cid)


async def _journey(
    world: World,
    admin: ApiClient,
    user: ApiClient,
    jwt_admin: ApiClient,
    sandbox: SandboxServer,
    cid: int,
) -> None:
    # The user sees it and may change nothing.
    assert [c["id"] for c in _ok(user.get(f"{PREFIX}/credentials"))] == [cid]
    refused = [
        user.post(f"{PREFIX}/credentials", json_body={
            "tenantId": "1", "clientId": "x", "clientSecret": "y", "environment": "integration",
            "companyId": world.company_c}),
        user.put(f"{PREFIX}/credentials/{cid}", json_body={"clientSecret": "cs1.nope-nope"}),
        user.delete(f"{PREFIX}/credentials/{cid}"),
        user.post(f"{PREFIX}/credentials/{cid}/test"),
        user.post(f"{PREFIX}/sync/{cid}", json_body={"syncType": "both"}),
        user.put(f"{PREFIX}/sync/schedule/{cid}", json_body={"every": "1h"}),
        user.get(f"{PREFIX}/reconcile/{cid}"),
        user.get(f"{PREFIX}/audit"),
    ]  # fmt: skip
    for response in refused:
        assert_problem(response, 403)

    # Test the connection.
    tested = _ok(admin.post(f"{PREFIX}/credentials/{cid}/test"))
    assert (tested["verdict"], tested["connected"]) == ("connected", True), tested
    assert _ok(user.get(f"{PREFIX}/credentials/{cid}"))["connectionStatus"] == "connected"

    # Start a sync; a second request while it runs answers 409 naming it.
    sandbox.admin("POST", "faults", {"latency_seconds": 1.0, "tenant_id": TENANT_SPARE})
    try:
        started = _ok(admin.post(f"{PREFIX}/sync/{cid}", json_body={"syncType": "both"}), 202)
        assert started["workflowId"] == f"servicetitan-sync-{cid}"
        assert started["statusUrl"] == f"{PREFIX}/sync/status/{cid}"
        live = _wait_for_live_progress(user, started["statusUrl"])
        second = admin.post(f"{PREFIX}/sync/{cid}", json_body={"syncType": "both"})
        conflict = assert_problem(second, 409)
        assert conflict["type"].endswith("/conflict")
        assert conflict["runningSyncId"] == live["syncLogId"]
        assert conflict["workflowId"] == started["workflowId"]
        assert conflict["runId"] == started["runId"]
    finally:
        sandbox.admin("POST", "faults/reset")

    # Poll to completion.
    final = _wait_for_completion(admin, started["statusUrl"])
    assert final["lastSync"]["id"] == live["syncLogId"]
    assert final["lastSync"]["recordsProcessed"] >= 20 + 40, final

    # History and dashboard, for the admin and the user alike.
    for reader in (admin, user):
        history = _ok(reader.get(f"{PREFIX}/sync/history", params={"credentialId": cid}))
        assert history["total"] == 1, history  # the 409 started nothing
        assert history["items"][0]["status"] == "completed"
        assert history["items"][0]["id"] == live["syncLogId"]
        rows = _ok(reader.get(f"{PREFIX}/dashboard"))["rows"]
        assert [(r["credentialId"], r["companyId"]) for r in rows] == [(cid, world.company_c)]
        assert rows[0]["lastSyncStatus"] == "completed"
        assert rows[0]["connectionStatus"] == "connected"
        assert rows[0]["running"] is False

    # Every write is in the audit log under the identity that made it: the API token's, or
    # the subject of the platform's JWT.
    rotated = jwt_admin.put(
        f"{PREFIX}/credentials/{cid}", json_body={"clientSecret": secret_of(TENANT_SPARE)}
    )
    assert _ok(rotated)["changed"] == ["client_secret"]
    trail = _ok(admin.get(f"{PREFIX}/audit", params={"credentialId": cid, "pageSize": 50}))
    by_action = {(entry["action"], entry["actor"]) for entry in trail["items"]}
    token = f"token:{world.token_ids['company_admin C']}:test company_admin C"
    for action in ("credential.created", "credential.tested", "sync.requested"):
        assert (action, token) in by_action, by_action
    assert ("credential.updated", "jwt:admin-c@platform") in by_action, by_action


def _wait_for_live_progress(client: ApiClient, status_url: str) -> dict[str, Any]:
    """The running sync's progress (from the workflow's query) once its sync log exists."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    while time.monotonic() < deadline:
        status = _ok(client.get(status_url))
        running = status["running"]
        if running is not None and running["syncLogId"] is not None:
            assert running["status"] == "running" and status["workflowId"], status
            return dict(running)
        assert status["lastSync"] is None, f"finished before it was seen running: {status}"
        time.sleep(0.1)
    raise AssertionError("the sync never showed live progress")


def _wait_for_completion(client: ApiClient, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + SYNC_TIMEOUT
    while time.monotonic() < deadline:
        status = _ok(client.get(status_url))
        if status["running"] is None and status["lastSync"] is not None:
            assert status["lastSync"]["status"] == "completed", status
            return dict(status)
        time.sleep(0.25)
    raise AssertionError(f"the sync did not finish in {SYNC_TIMEOUT:.0f}s")
