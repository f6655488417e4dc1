"""Property-based fuzzing of every operation from the live server's own /openapi.json.

Schemathesis draws requests from the document, valid ones and invalid ones on purpose, and
sends them with an admin token to a server of its own: its own database (a company and a
credential to find) and a task queue nobody polls, so what the fuzzer creates, changes,
deletes or starts touches no other test. Every answer must be below 500, carry a status and
content type the document declares for the operation, and match its schema. One test per
operation of the committed document, named by it; bounded (``MAX_EXAMPLES`` each, no
shrinking: the failing request is printed as a curl line). The pytest plugin's own
``from_fixture`` cannot run on pytest 9 (it sets ``Item._nodeid``), so each test draws from
the operation's Hypothesis strategy directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.client import Client
from temporalio.service import RPCError

from api.openapi import DOCUMENT_PATH
from core.crypto import KeyRing, SecretBox
from db import credentials
from db.database import Database
from runtime.schedules import SCHEDULE_PREFIX
from services import tokens
from services.identity import Principal, Role
from tests.api.server import ApiServer
from tests.api.world import (
    TENANT_SPARE,
    client_id_of,
    secret_of,
    start_credential_ids_at,
    stop_everything_on,
)
from tests.support.databases import fresh_database

MAX_EXAMPLES = 20
FIRST_FUZZ_CREDENTIAL_ID = 700_000
"""Far from every other database's ids: the fuzzer's syncs and schedules are named by them."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_database_url(postgres_server_url: str, template_database: str) -> Iterator[str]:
    with fresh_database(postgres_server_url, template_database) as url:
        yield url


@dataclass(frozen=True)
class FuzzTarget:
    """What exists for one operation's fuzzing: a company, its credential, an admin token."""

    company_id: int
    credential_id: int
    admin_token: str = field(repr=False)


@pytest.fixture(scope="module")
async def fuzz_database(fuzz_database_url: str) -> AsyncIterator[Database]:
    database = Database(fuzz_database_url, pool_size=1)
    try:
        async with database.transaction() as connection:
            await start_credential_ids_at(connection, FIRST_FUZZ_CREDENTIAL_ID)
        yield database
    finally:
        await database.close()


@pytest.fixture(scope="module")
async def fuzz_admin_token(fuzz_database: Database) -> str:
    issued = await tokens.create_token(
        fuzz_database, Principal.operator("fuzz"), name="fuzz admin", role=Role.ADMIN
    )
    return issued.token


@pytest.fixture
async def fuzz_target(
    fuzz_database: Database, fuzz_admin_token: str, encryption_keys: str
) -> FuzzTarget:
    """A new company and credential for each operation: the fuzzing of DELETE before it may
    well have deleted the last one."""
    box = SecretBox(KeyRing.parse(encryption_keys))
    async with fuzz_database.transaction() as connection:
        name = f"Fuzz Co {uuid.uuid4().hex[:8]}"
        company = await credentials.add_company(
            connection, name=name, intacct_id=name, primary_trade="HVAC", actor="fuzz"
        )
        credential = await credentials.add_credential(
            connection,
            box,
            company_id=company,
            tenant_id=str(TENANT_SPARE),
            client_id=client_id_of(TENANT_SPARE),
            client_secret=secret_of(TENANT_SPARE),
            environment="production",
            actor="fuzz",
        )
    return FuzzTarget(company, credential, fuzz_admin_token)


@pytest.fixture(scope="module")
async def fuzz_server(
    api_env: dict[str, str],
    fuzz_database_url: str,
    temporal_client: Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ApiServer]:
    """The API on the fuzz database; afterwards, what the fuzzer started in Temporal goes."""
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    task_queue = f"fuzz-{uuid.uuid4().hex[:8]}"  # no worker polls it: syncs stay queued
    env = {**api_env, "DATABASE_URL": fuzz_database_url, "TEMPORAL_TASK_QUEUE": task_queue,
           "DATA_DIR": str(workdir)}  # fmt: skip
    server = ApiServer(env, workdir, name="fuzz-api")
    try:
        yield await asyncio.to_thread(server.start)
    finally:
        server.stop()
        await stop_everything_on(temporal_client, task_queue)
        async for listed in await temporal_client.list_schedules():
            number = listed.id.removeprefix(SCHEDULE_PREFIX)
            if number.isdigit() and int(number) >= FIRST_FUZZ_CREDENTIAL_ID:
                with contextlib.suppress(RPCError):
                    await temporal_client.get_schedule_handle(listed.id).delete()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the committed document, which the drift test
    holds equal to the app's; read at collection, so each operation is a test of its own."""
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    ]


@pytest.fixture(scope="module")
def live_schema(fuzz_server: ApiServer) -> schemathesis.BaseSchema:
    """The document the running server serves (not the file), as Schemathesis reads it."""
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", timeout=30)
    schema.config.update(base_url=fuzz_server.url, request_timeout=30)
    return schema


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_no_operation_answers_5xx_or_off_its_schema(
    method: str, path: str, live_schema: schemathesis.BaseSchema, fuzz_target: FuzzTarget
) -> None:
    operation = live_schema[path][method]
    auth = {"Authorization": f"Bearer {fuzz_target.admin_token}"}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, headers=auth),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=auth),
    ]
    if "{credentialId}" in path:  # random ids rarely exist: also aim at the one that does
        existing = {"credentialId": fuzz_target.credential_id}
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, headers=auth, path_parameters=existing)
        )
    cases = st.one_of(strategies)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing case is printed
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    fuzz()


def _documented(method: str, path: str) -> set[int]:
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return {int(status) for status in document["paths"][path][method.lower()]["responses"]}


CREDENTIALS = "/api/servicetitan/credentials"
NUL = "\x00"
EDGES = [
    # (name, method, path, params, raw body)
    ("NUL in the audit action filter", "GET", "/api/servicetitan/audit",
     {"action": f"a{NUL}b"}, None),
    ("NUL in the rejects reason filter", "GET", "/api/servicetitan/rejects",
     {"reason": f"a{NUL}"}, None),
    ("NUL in the warnings reason filter", "GET", "/api/servicetitan/rejects/warnings",
     {"reason": f"a{NUL}"}, None),
    ("NUL in a credential's tenant id", "POST", CREDENTIALS, None, json.dumps({
        "tenantId": f"1{NUL}", "clientId": "cid.x", "clientSecret": "cs1.x",
        "environment": "integration", "companyId": 1}).encode()),
    ("a body that is not JSON", "POST", CREDENTIALS, None, b"\xff{not json"),
    ("a body that is not JSON (rotation)", "PUT", CREDENTIALS + "/{credentialId}", None, b"\xff{"),
    ("a body that is not JSON (sync)", "POST", "/api/servicetitan/sync/{credentialId}", None, b"{"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [pytest.param(*edge[1:], id=edge[0]) for edge in EDGES],
)
def test_inputs_the_fuzzer_found_answer_a_documented_4xx(
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: bytes | None,
    fuzz_server: ApiServer,
    fuzz_target: FuzzTarget,
) -> None:
    """Inputs the fuzzer once answered with a 500 or an undocumented status (and their kin),
    kept as fixed examples so they are tried on every run."""
    response = httpx.request(
        method,
        fuzz_server.url + path.replace("{credentialId}", str(fuzz_target.credential_id)),
        params=params,
        content=body,
        headers={
            "Authorization": f"Bearer {fuzz_target.admin_token}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.status_code in _documented(method, path), (
        f"{response.status_code} is not documented for {method} {path}: {response.text[:300]}"
    )
    assert response.headers["content-type"].startswith("application/problem+json")
