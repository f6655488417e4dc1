"""Fixtures for the sandbox's own tests: a small two-tenant sandbox, in-process and over HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from sandbox import Sandbox, SandboxConfig, TenantSpec, create_app
from sandbox.generate import Kind
from sandbox.server import RunningServer, serve_in_thread
from sandbox.timefmt import parse_timestamp
from tests.openapi import load_schemas

T1 = 1001
T2 = 1002
APP_KEY = "ak1.sandbox"
BASE_URL = "http://sandbox.test"

EXPORT_PATHS: dict[Kind, str] = {
    "invoices": "/accounting/v2/tenant/{t}/export/invoices",
    "customers": "/crm/v2/tenant/{t}/export/customers",
    "contacts": "/crm/v2/tenant/{t}/export/customers/contacts",
}


def ticks(timestamp: str) -> int:
    """Ticks of a timestamp the sandbox served (which must parse)."""
    value = parse_timestamp(timestamp)
    assert value is not None, timestamp
    return value


def small_config(**overrides: Any) -> SandboxConfig:
    """Two tenants, pages of 50, rate limit off (tests that need it turn it on)."""
    values: dict[str, Any] = {
        "tenants": [TenantSpec.make(T1, 150, 400), TenantSpec.make(T2, 20, 40)],
        "export_page_size": 50,
        "rate_limit_per_second": 0.0,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(small_config())


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[RunningServer]:
    with serve_in_thread(sandbox) as running:
        yield running


def credentials(tenant_id: int) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": f"cid.sandbox-{tenant_id}",
        "client_secret": f"cs1.sandbox-{tenant_id}",
    }


async def get_token(client: httpx.AsyncClient, tenant_id: int = T1) -> str:
    response = await client.post("/connect/token", data=credentials(tenant_id))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def auth_headers(client: httpx.AsyncClient, tenant_id: int = T1) -> dict[str, str]:
    return {"Authorization": f"Bearer {await get_token(client, tenant_id)}", "ST-App-Key": APP_KEY}


async def export_all(
    client: httpx.AsyncClient,
    kind: Kind,
    headers: dict[str, str],
    tenant_id: int = T1,
    start: str | None = None,
    **params: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """(records, page envelopes without data, final continueFrom) of one export run."""
    url = EXPORT_PATHS[kind].format(t=tenant_id)
    records: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    token = start
    while True:
        query = dict(params)
        if token is not None:
            query["from"] = token
        response = await client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body["data"])
        pages.append(
            {
                "hasMore": body["hasMore"],
                "continueFrom": body["continueFrom"],
                "ids": [r.get("id") for r in body["data"]],
            }
        )
        token = body["continueFrom"]
        if not body["hasMore"]:
            return records, pages, token


# ---- schema validation ---------------------------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    head = value[:19]
    try:
        datetime.fromisoformat(head)
    except ValueError:
        return False
    return True


def _int_range(bits: int) -> Callable[[object], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: object) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high

    return check


def _format_checker() -> Any:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    checker.checks("int64")(_int_range(64))
    checker.checks("int32")(_int_range(32))
    return checker


@pytest.fixture(scope="session")
def schemas() -> dict[str, Any]:
    """ServiceTitan's component schemas, by name (tests/openapi)."""
    return load_schemas()


@pytest.fixture(scope="session")
def validator_for(schemas: dict[str, Any]) -> Callable[[str], Any]:
    """``validator_for(name)`` → a Draft 2020-12 validator for one OpenAPI component schema.

    Formats are enforced: ``date-time`` (RFC 3339 with up to 7 fractional digits), ``int32``
    and ``int64`` ranges.
    """
    cache: dict[str, Any] = {}
    checker = _format_checker()

    def get(name: str) -> Any:
        if name not in cache:
            assert name in schemas, f"unknown schema {name}"
            schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
            cache[name] = jsonschema.Draft202012Validator(schema, format_checker=checker)
        return cache[name]

    return get


def assert_valid(validator: Any, instance: Any) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        raise AssertionError(f"{len(errors)} schema errors:\n{details}")
