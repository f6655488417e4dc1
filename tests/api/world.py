"""The data the API tests stand on: companies A, B and C, synced credentials, tokens.

Seeded below the API (``db.credentials`` and the service layer), so a test of an endpoint
never depends on another endpoint working. A and B each have a production credential whose
sync ran through the worker against the sandbox (with quarantined records), so every list
has rows of both (``schedule_both`` adds their schedules: tests/conftest.py deletes every
schedule after each test); C is empty, for the end-to-end onboarding. ``World.leaks`` finds
company B's data in an answer: none of it may reach A's identities.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from temporalio.client import Client
from temporalio.service import RPCError

from contracts.sync import SyncInput
from db import credentials
from services import credentials as credential_service
from services import schedules
from services import tokens as token_service
from services.context import ServiceContext
from services.errors import NotFound
from services.identity import Principal, Role
from tests.api.jwts import JwtIssuer
from tests.support.processes import SandboxServer
from workflows.sync import SyncWorkflow, workflow_id_for

# (tenant, customers, invoices): A's, B's, and one for credentials made during the tests.
TENANT_A, TENANT_B, TENANT_SPARE = 4101, 4102, 4103
TENANTS = ((TENANT_A, 40, 80), (TENANT_B, 30, 60), (TENANT_SPARE, 20, 40))
MISSING_ID = 987_654
"""An id no object has: the "missing object" column of the matrix."""
FIRST_CREDENTIAL_ID = 500_000
"""Credential ids start here, because workflow and schedule ids are made of them and the
Temporal server is the whole test session's: other suites' credentials 1, 2, … never meet ours."""
SEED = Principal.operator("test-seed")
FAR_SCHEDULE = "720h"
"""Schedules that exist to be listed, paused and deleted, not to fire during a test run."""

COMPANY_B_NAME = "Bravo Marker Heating"
COMPANY_B_INTACCT = "BRAVO-MARKER-7"


def client_id_of(tenant: int) -> str:
    return f"cid.sandbox-{tenant}"


_SECRETS = {tenant: f"cs1.apitest-{tenant}-{secrets.token_hex(12)}" for tenant, *_ in TENANTS}
"""Each tenant's client secret, new every session, so the secret scan's needles are unique."""


def secret_of(tenant: int) -> str:
    return _SECRETS[tenant]


def sandbox_tenants() -> str:
    """The sandbox's ``--tenants`` spec, with these client ids and secrets."""
    return ",".join(
        f"{tenant}:{customers}:{invoices}:{client_id_of(tenant)}:{secret_of(tenant)}"
        for tenant, customers, invoices in TENANTS
    )


@dataclass
class World:
    context: ServiceContext = field(repr=False)
    company_a: int = 0
    company_b: int = 0
    company_c: int = 0
    credential_a: int = 0
    credential_b: int = 0
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    """Identity label → bearer token (``bad token`` was never issued)."""
    token_ids: dict[str, int] = field(default_factory=dict)

    def leaks(self, body: Any) -> list[str]:
        """Where company B (or its credential) shows in a JSON body."""
        markers = (COMPANY_B_NAME, COMPANY_B_INTACCT, credentials.mask(client_id_of(TENANT_B)))
        return mentions(body, self.company_b, self.credential_b, markers)

    def shows_a(self, body: Any) -> bool:
        """Whether company A's data is in a JSON body."""
        return bool(mentions(body, self.company_a, self.credential_a, ("Alpha Plumbing",)))

    async def throwaway(self, company_id: int, *, schedule: bool = False) -> int:
        """A fresh integration credential of the spare tenant, to be changed or deleted."""
        async with self.context.database.transaction() as connection:
            credential_id = await credentials.add_credential(
                connection,
                self.context.box,
                company_id=company_id,
                tenant_id=str(TENANT_SPARE),
                client_id=client_id_of(TENANT_SPARE),
                client_secret=secret_of(TENANT_SPARE),
                environment="integration",
                actor=SEED.actor,
            )
        if schedule:
            await schedules.set_schedule(self.context, SEED, credential_id, every=FAR_SCHEDULE)
        return credential_id

    async def schedule_both(self) -> None:
        """Give A's and B's credentials a schedule (for this test only)."""
        for credential_id in (self.credential_a, self.credential_b):
            await schedules.set_schedule(self.context, SEED, credential_id, every=FAR_SCHEDULE)

    async def discard(self, credential_id: int) -> None:
        """Delete a credential made for a test with its schedule and any sync it started."""
        with contextlib.suppress(NotFound):
            await credential_service.delete_credential(
                self.context, SEED, credential_id, force=True
            )
        client = await self.context.client()
        with contextlib.suppress(RPCError):  # a launcher that started it after the delete
            await client.get_workflow_handle(workflow_id_for(credential_id)).terminate("test done")


def mentions(body: Any, company_id: int, credential_id: int, markers: tuple[str, ...]) -> list[str]:
    """Every place a JSON body names the company or its credential (by field or by text)."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if (key, value) in (("companyId", company_id), ("credentialId", credential_id)):
                    found.append(f"{path}.{key}={value}")
            company = node.get("company")
            if isinstance(company, dict) and company.get("id") == company_id:
                found.append(f"{path}.company.id")
            if "tenantId" in node and node.get("id") == credential_id:
                found.append(f"{path}.id (a credential)")
            if company_id in (node.get("companyIds") or []):
                found.append(f"{path}.companyIds")
            if str(credential_id) in (node.get("staleAfterSeconds") or {}):
                found.append(f"{path}.staleAfterSeconds")
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")
        elif isinstance(node, str):
            found.extend(f"{path}: {marker!r}" for marker in markers if marker in node)

    walk(body, "$")
    return found


async def _sync(context: ServiceContext, credential_id: int) -> None:
    client = await context.client()
    handle = await client.start_workflow(
        SyncWorkflow.run,
        SyncInput(credential_id=credential_id),
        id=workflow_id_for(credential_id),
        task_queue=context.settings.temporal_task_queue,
        execution_timeout=timedelta(minutes=5),
    )
    result = await handle.result()
    assert result.status == "completed", result


@asynccontextmanager
async def seed_world(
    context: ServiceContext, sandbox: SandboxServer, platform: JwtIssuer
) -> AsyncIterator[World]:
    world = World(context)
    for tenant in (TENANT_A, TENANT_B):  # quarantined records for the rejects endpoints
        body = {"tenant_id": tenant, "kind": "invoices", "cases": ["missing_id", "absurd_money"]}
        await asyncio.to_thread(sandbox.admin, "POST", "bad-records", body)
    async with context.database.transaction() as connection:
        await start_credential_ids_at(connection, FIRST_CREDENTIAL_ID)
        companies = []
        for name, intacct in (
            ("Alpha Plumbing", "ALPHA-1"),
            (COMPANY_B_NAME, COMPANY_B_INTACCT),
            ("Charlie Onboarding", "CHARLIE-3"),
        ):
            companies.append(
                await credentials.add_company(
                    connection, name=name, intacct_id=intacct, primary_trade="HVAC", actor="seed"
                )
            )
        world.company_a, world.company_b, world.company_c = companies
        for company, tenant in ((world.company_a, TENANT_A), (world.company_b, TENANT_B)):
            credential_id = await credentials.add_credential(
                connection,
                context.box,
                company_id=company,
                tenant_id=str(tenant),
                client_id=client_id_of(tenant),
                client_secret=secret_of(tenant),
                environment="production",
                actor=SEED.actor,
            )
            if tenant == TENANT_A:
                world.credential_a = credential_id
            else:
                world.credential_b = credential_id
    a, c = [world.company_a], [world.company_c]
    identities: list[tuple[str, Role, list[int]]] = [
        ("admin", Role.ADMIN, []),
        ("company_admin", Role.COMPANY_ADMIN, a),
        ("company_user", Role.COMPANY_USER, a),
        ("expired token", Role.COMPANY_ADMIN, a),
        ("revoked token", Role.COMPANY_ADMIN, a),
        ("company_admin C", Role.COMPANY_ADMIN, c),
        ("company_user C", Role.COMPANY_USER, c),
    ]
    for label, role, companies_of in identities:
        issued = await token_service.create_token(
            context.database, SEED, name=f"test {label}", role=role, company_ids=companies_of
        )
        world.tokens[label], world.token_ids[label] = issued.token, issued.id
    await token_service.revoke_token(context.database, SEED, world.token_ids["revoked token"])
    async with context.database.transaction() as connection:
        await connection.execute(
            text("UPDATE api_tokens SET expires_at = :past WHERE id = :id"),
            {
                "past": datetime.now(UTC) - timedelta(minutes=5),
                "id": world.token_ids["expired token"],
            },
        )
    world.tokens["bad token"] = "sts_" + secrets.token_urlsafe(32)
    a_user = ("user-a@platform", "company_user", a)
    world.tokens["jwt company_user"] = platform.mint(*a_user)
    world.tokens["expired jwt"] = platform.mint(*a_user, expires_in=timedelta(minutes=-5))
    world.tokens["forged jwt"] = JwtIssuer().mint("admin@platform", "admin", [])
    world.tokens["jwt company_admin C"] = platform.mint("admin-c@platform", "company_admin", c)
    await asyncio.gather(_sync(context, world.credential_a), _sync(context, world.credential_b))
    try:
        yield world
    finally:
        for credential_id in (world.credential_a, world.credential_b):
            await world.discard(credential_id)
        await stop_everything_on(await context.client(), context.settings.temporal_task_queue)


async def start_credential_ids_at(connection: Any, first: int) -> None:
    await connection.execute(
        text("SELECT setval(pg_get_serial_sequence('servicetitan_credentials', 'id'), :n, false)"),
        {"n": first},
    )


async def stop_everything_on(client: Client, task_queue: str) -> None:
    """Terminate what still runs on a task queue, so no later test meets it."""
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(execution.id, run_id=execution.run_id).terminate(
                "the API tests are done"
            )
