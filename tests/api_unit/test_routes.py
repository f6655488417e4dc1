"""Routes render the services' answers as camelCase DTOs and their refusals as problems
(Temporal is down here: what needs it is 503, reads keep working)."""

from __future__ import annotations

import httpx

from db import credentials
from db.database import Database
from services import tokens
from services.identity import Principal

BASE = "/api/servicetitan"
SECRET = "cs1.unit-test-secret-value"


async def _company(database: Database, name: str) -> int:
    async with database.transaction() as connection:
        return await credentials.add_company(
            connection, name=name, intacct_id=name.upper(), primary_trade="HVAC", actor="t"
        )


async def _token(database: Database, role: str, *companies: int) -> dict[str, str]:
    issued = await tokens.create_token(
        database, Principal.operator("t"), name=role, role=role, company_ids=companies
    )
    return {"Authorization": f"Bearer {issued.token}"}


async def test_a_company_admin_onboards_and_reads_its_credential(
    api: httpx.AsyncClient, database: Database
) -> None:
    mine, other = await _company(database, "mine"), await _company(database, "other")
    admin = await _token(database, "company_admin", mine)
    user = await _token(database, "company_user", mine)
    body = {
        "tenantId": "1002",
        "clientId": "cid.unit-test-client",
        "clientSecret": SECRET,
        "environment": "integration",
        "companyId": mine,
    }
    created = await api.post(f"{BASE}/credentials", json=body, headers=admin)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["tenantId"] == "1002" and view["company"]["id"] == mine
    assert view["clientId"] != body["clientId"] and "clientSecret" not in view
    assert SECRET not in created.text

    # Another company's id answers exactly as a missing one.
    elsewhere = await api.post(
        f"{BASE}/credentials", json={**body, "companyId": other}, headers=admin
    )
    assert elsewhere.status_code == 404
    # A company user may read but not write.
    refused = await api.post(f"{BASE}/credentials", json=body, headers=user)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/forbidden")
    listed = await api.get(f"{BASE}/credentials", headers=user)
    assert [c["id"] for c in listed.json()] == [view["id"]]

    meta = (await api.get(f"{BASE}/credentials/metadata", headers=user)).json()
    assert meta["canManage"] is False and meta["companyIds"] == [mine]

    # Reads keep working with Temporal down; starting a sync is a clear 503.
    status = await api.get(f"{BASE}/sync/status/{view['id']}", headers=user)
    assert status.status_code == 200 and status.json()["liveAvailable"] is False
    started = await api.post(f"{BASE}/sync/{view['id']}", json={"syncType": "both"}, headers=admin)
    assert started.status_code == 503 and started.json()["type"].endswith("/unavailable")
    dashboard = (await api.get(f"{BASE}/dashboard", headers=user)).json()
    assert dashboard["temporalAvailable"] is False
    assert [row["credentialId"] for row in dashboard["rows"]] == [view["id"]]
    history = (await api.get(f"{BASE}/sync/history?pageSize=5", headers=user)).json()
    assert history == {"items": [], "total": 0, "page": 1, "pageSize": 5}

    # The audit log names the token, not an OS user; company users may not read it.
    trail = (await api.get(f"{BASE}/audit?action=credential.", headers=admin)).json()
    assert trail["total"] >= 1
    assert all(item["actor"].startswith("token:") for item in trail["items"])
    assert SECRET not in str(trail)
    assert (await api.get(f"{BASE}/audit", headers=user)).status_code == 403


async def test_service_validation_is_a_problem_naming_the_camel_case_field(
    api: httpx.AsyncClient, database: Database
) -> None:
    mine = await _company(database, "acme")
    admin = await _token(database, "company_admin", mine)
    body = {
        "tenantId": "not-a-number",
        "clientId": "cid.x",
        "clientSecret": SECRET,
        "environment": "integration",
        "companyId": mine,
    }
    response = await api.post(f"{BASE}/credentials", json=body, headers=admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/invalid")
    assert problem["errors"][0]["field"] == "tenantId"
