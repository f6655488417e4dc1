"""Every body the sandbox serves validates against ServiceTitan's own OpenAPI schemas.

The data set is seeded (no injected bad records), big enough that every rare null and every
odd value family occurs, and includes mutated, added, deactivated and merged records.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox import Sandbox, SandboxConfig, TenantSpec, create_app

from .conftest import APP_KEY, BASE_URL, EXPORT_PATHS, assert_valid, auth_headers

EXPORT_SCHEMAS = {
    "invoices": "ExportResponse_Of_Accounting.V2.ExportInvoiceResponse",
    "customers": "ExportResponse_Of_Crm.V2.ExportCustomerResponse",
    "contacts": "ExportResponse_Of_Crm.V2.ExportCustomerContactResponse",
}


@pytest.fixture(scope="module")
def seeded() -> Sandbox:
    config = SandboxConfig(
        tenants=[TenantSpec.make(2001, 400, 1200), TenantSpec.make(2002, 40, 90)],
        seed=7,
        export_page_size=500,
        rate_limit_per_second=0,
    )
    sandbox = Sandbox(config)
    for tenant in (2001, 2002):
        sandbox.mutate(tenant, modify=25, add=10, deactivate=8, merge=5, contacts=30)
        sandbox.mutate(tenant, modify=10, contacts=10)
    return sandbox


async def test_every_export_page_validates(seeded: Sandbox, validator_for) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seeded)), base_url=BASE_URL
    ) as client:
        for tenant in (2001, 2002):
            headers = await auth_headers(client, tenant)
            for kind, path in EXPORT_PATHS.items():
                validator = validator_for(EXPORT_SCHEMAS[kind])
                token: str | None = None
                served = 0
                while True:
                    params: dict[str, str] = {"from": token} if token else {}
                    response = await client.get(
                        path.format(t=tenant), params=params, headers=headers
                    )
                    assert response.status_code == 200
                    body = response.json()
                    assert_valid(validator, body)
                    served += len(body["data"])
                    token = body["continueFrom"]
                    if not body["hasMore"]:
                        break
                assert served == sum(1 for _ in seeded.records(tenant, kind))


async def test_every_list_and_lookup_body_validates(seeded: Sandbox, validator_for) -> None:
    invoices = validator_for("PaginatedResponse_Of_Accounting.V2.InvoiceResponse")
    customers = validator_for("PaginatedResponse_Of_Crm.V2.Customers.CustomerResponse")
    customer = validator_for("Crm.V2.Customers.CustomerResponse")
    bulk_contacts = validator_for(
        "PaginatedResponse_Of_Crm.V2.Customers.CustomerContactWithModifiedOnAndCustomerIdResponse"
    )
    customer_contacts = validator_for(
        "PaginatedResponse_Of_Crm.V2.Customers.CustomerContactWithModifiedOnResponse"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seeded)), base_url=BASE_URL
    ) as client:
        headers = await auth_headers(client, 2001)
        base = "/accounting/v2/tenant/2001"
        crm = "/crm/v2/tenant/2001"
        for page, more in ((1, True), (5, False)):  # 1210 invoices in pages of 300
            response = await client.get(
                f"{base}/invoices",
                params={"page": page, "pageSize": 300, "activeState": "All", "includeTotal": True},
                headers=headers,
            )
            assert_valid(invoices, response.json())
            assert response.json()["hasMore"] is more
            assert response.json()["totalCount"] == 1210
        response = await client.get(f"{base}/invoices", headers=headers)
        assert response.json()["totalCount"] is None
        assert_valid(invoices, response.json())
        response = await client.get(
            f"{crm}/customers", params={"active": "Any", "pageSize": 5000}, headers=headers
        )
        body = response.json()
        assert_valid(customers, body)
        sample = body["data"][::37]
        for record in sample:
            one = await client.get(f"{crm}/customers/{record['id']}", headers=headers)
            assert_valid(customer, one.json())
        response = await client.get(
            f"{crm}/customers/contacts",
            params={"modifiedOnOrAfter": "2000-01-01", "pageSize": 5000},
            headers=headers,
        )
        assert_valid(bulk_contacts, response.json())
        assert len(response.json()["data"]) > 100
        for record in sample:
            listed = await client.get(f"{crm}/customers/{record['id']}/contacts", headers=headers)
            assert_valid(customer_contacts, listed.json())


async def test_error_bodies_validate_as_api_error_response(seeded: Sandbox, validator_for) -> None:
    problem = validator_for("ApiErrorResponse")
    seeded.reset_faults()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seeded)), base_url=BASE_URL
    ) as client:
        headers = await auth_headers(client, 2001)
        path = "/accounting/v2/tenant/2001/export/invoices"
        bodies = {
            401: await client.get(path, headers={"ST-App-Key": APP_KEY}),
            403: await client.get("/accounting/v2/tenant/2002/export/invoices", headers=headers),
            400: await client.get(path, params={"from": "garbage!"}, headers=headers),
            404: await client.get("/crm/v2/tenant/2001/customers/1", headers=headers),
        }
        seeded.force_429(count=1, retry_after=2)
        bodies[429] = await client.get(path, headers=headers)
        seeded.set_faults(error_rate=1.0, error_statuses=(502,))
        bodies[502] = await client.get(path, headers=headers)
        seeded.reset_faults()
        unknown = await client.get("/nope", headers=headers)
        bodies[unknown.status_code] = unknown
    for status, response in bodies.items():
        assert response.status_code == status, response.text
        assert_valid(problem, response.json())
        assert response.json()["status"] == status


def test_the_validator_catches_what_it_should(seeded: Sandbox, validator_for) -> None:
    """Guard against a vacuous validator: broken records must fail."""
    validator = validator_for("Accounting.V2.ExportInvoiceResponse")
    record = next(seeded.invoices(2001))
    assert_valid(validator, record)
    breakages: list[Callable[[dict[str, Any]], object]] = [
        lambda r: r.update(total=12.5),
        lambda r: r.update(modifiedOn="2024-13-45T00:00:00Z"),
        lambda r: r.update(unexpected=1),
        lambda r: r.pop("id"),
        lambda r: r.update(id=2**63),
        lambda r: r.update(sentStatus="Archived"),
    ]
    for mutate in breakages:
        broken = copy.deepcopy(record)
        mutate(broken)
        with pytest.raises(AssertionError):
            assert_valid(validator, broken)
