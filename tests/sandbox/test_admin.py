"""The admin API under /_sandbox/: the Python API over HTTP, for out-of-process drivers."""

from __future__ import annotations

import json

import httpx

from sandbox import Sandbox

from .conftest import EXPORT_PATHS, T1, auth_headers, credentials


async def test_health_and_tenants_without_secrets(client: httpx.AsyncClient) -> None:
    health = await client.get("/_sandbox/health")
    assert health.json() == {"status": "ok", "tenants": [1001, 1002]}
    tenants = await client.get("/_sandbox/tenants")
    assert tenants.json()[0] == {
        "tenant_id": T1, "client_id": "cid.sandbox-1001", "customers": 150, "invoices": 400
    }  # fmt: skip
    assert "cs1." not in tenants.text


async def test_mutate_over_http(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_sandbox/mutate",
        json={
            "tenant_id": T1,
            "modify": 2,
            "add": 1,
            "merge": 1,
            "contacts": 2,
            "kinds": ["customers"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["customers"]["added"]) == 1 and body["invoices"]["modified"] == []
    assert body["customers"]["merged"][0]["into"] in body["customers"]["modified"]
    added = body["customers"]["added"][0]
    assert sandbox.record(T1, "customers", added) is not None
    bad = await client.post("/_sandbox/mutate", json={"modify": 1})
    assert bad.status_code == 404 and "tenant_id" in bad.json()["error"]
    bad = await client.post("/_sandbox/mutate", json={"tenant_id": T1, "modify": -1})
    assert bad.status_code == 400
    bad = await client.post("/_sandbox/mutate", content=b"[1]")
    assert bad.status_code == 400


async def test_faults_over_http(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["invoices"].format(t=T1)
    view = await client.post(
        "/_sandbox/faults", json={"error_rate": 1.0, "error_statuses": [502], "tenant_id": T1}
    )
    assert view.json()["settings"]["error_statuses"] == [502]
    assert (await client.get(url, headers=headers)).status_code == 502
    assert (await client.get("/_sandbox/faults")).json()["settings"]["error_rate"] == 1.0
    assert (await client.post("/_sandbox/faults", json={"nope": 1})).status_code == 400
    await client.post("/_sandbox/faults/reset")
    assert (await client.get(url, headers=headers)).status_code == 200
    forced = await client.post("/_sandbox/faults/force-429", json={"count": 1, "retry_after": 4})
    assert forced.json()["forced_429"][0]["remaining"] == 1
    response = await client.get(url, headers=headers)
    assert response.status_code == 429 and response.headers["retry-after"] == "4"
    view = await client.post("/_sandbox/faults", json={"rate_limit_per_second": 7})
    assert view.json()["rate_limit"] == {"per_second": 7.0, "burst": 7.0}


async def test_credentials_and_time_over_http(client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client)
    url = EXPORT_PATHS["customers"].format(t=T1)
    await client.post("/_sandbox/revoke", json={"client_id": "cid.sandbox-1001"})
    assert (await client.post("/connect/token", data=credentials(T1))).status_code == 400
    assert (await client.get(url, headers=headers)).status_code == 401
    await client.post("/_sandbox/restore", json={"client_id": "cid.sandbox-1001"})
    assert (await client.get(url, headers=headers)).status_code == 200
    await client.post("/_sandbox/expire-tokens", json={})
    assert (await client.get(url, headers=headers)).status_code == 401
    headers = await auth_headers(client)
    advanced = await client.post("/_sandbox/time/advance", json={"seconds": 901})
    assert advanced.json()["offset_seconds"] == 901
    assert (await client.get(url, headers=headers)).status_code == 401


async def test_bad_records_counters_settings_records_and_reset(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/_sandbox/bad-records",
        json={"tenant_id": T1, "kind": "customers", "cases": ["unparsable_modified_on"]},
    )
    injected = response.json()["injected"]
    assert injected[0]["case"] == "unparsable_modified_on" and injected[0]["expect"] == "reject"
    assert "spec_nulls" in response.json()["available_cases"]
    bad_kind = await client.post("/_sandbox/bad-records", json={"tenant_id": T1, "kind": "x"})
    assert bad_kind.status_code == 400

    lines = (await client.get(f"/_sandbox/records/{T1}/customers")).text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in sandbox.customers(T1)]
    expected = (await client.get(f"/_sandbox/records/{T1}/customers?expected=true")).text
    assert str(injected[0]["id"]) not in expected
    assert (await client.get(f"/_sandbox/records/{T1}/nope")).status_code == 404

    settings = await client.post("/_sandbox/settings", json={"export_page_size": 9})
    assert settings.json() == {"export_page_size": 9}
    headers = await auth_headers(client)
    page = await client.get(EXPORT_PATHS["invoices"].format(t=T1), headers=headers)
    assert len(page.json()["data"]) == 9

    counters = (await client.get("/_sandbox/counters")).json()
    assert counters["requests"]["export_invoices"] == 1 and counters["tokens_issued"] == 1
    await client.post("/_sandbox/counters/reset")
    assert (await client.get("/_sandbox/counters")).json()["requests"] == {}

    await client.post("/_sandbox/reset")
    assert sandbox.export_page_size == 50
    assert len(list(sandbox.customers(T1))) == 150
