"""One real stack for the API tests: PostgreSQL, Temporal, the sandbox, a worker, the API server.

Everything is a separate process, as in production: the sandbox serves three tenants over
HTTP, ``worker.py`` syncs from it, and ``starter.py api serve`` answers on a free loopback
port, all sharing one database (a copy of the migrated template), the session's Temporal dev
server and one task queue. ``world`` seeds two companies (A and B) with one synced production
credential each (with quarantined records, so every list has rows of both companies) and
mints an API token or a platform JWT for every identity the tests need.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from core.crypto import secret_box_from_settings
from core.settings import load_settings
from db.database import Database
from services.context import ServiceContext
from tests.api.jwts import AUDIENCE, ISSUER, JwtIssuer
from tests.api.server import ApiClient, ApiServer, Transcript
from tests.api.world import World, sandbox_tenants, seed_world
from tests.support.databases import fresh_database
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment


@pytest.fixture(scope="session")
def api_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="session")
def api_database_url(postgres_server_url: str, template_database: str) -> Iterator[str]:
    with fresh_database(postgres_server_url, template_database) as url:
        yield url


@pytest.fixture(scope="session")
def api_sandbox(api_workdir: Path) -> Iterator[SandboxServer]:
    sandbox = SandboxServer(tenants=sandbox_tenants(), workdir=api_workdir, export_page_size=50)
    with running(sandbox):
        sandbox.start()
        yield sandbox


@pytest.fixture(scope="session")
def jwt_issuer() -> JwtIssuer:
    """The platform whose JWTs the API accepts."""
    return JwtIssuer()


@pytest.fixture(scope="session")
def api_env(
    api_database_url: str,
    api_sandbox: SandboxServer,
    temporal_client: Client,
    encryption_keys: str,
    api_workdir: Path,
    jwt_issuer: JwtIssuer,
) -> dict[str, str]:
    """What the worker and the API server share (the API needs the sandbox for tests)."""
    public_key = jwt_issuer.write_public_key(api_workdir / "platform-jwt.pem")
    return worker_environment(
        database_url=api_database_url,
        temporal_address=temporal_client.service_client.config.target_host,
        task_queue=f"api-{uuid.uuid4().hex[:8]}",
        sandbox_url=api_sandbox.url,
        encryption_keys=encryption_keys,
        data_dir=api_workdir,
        # The matrix sends hundreds of bad tokens from one address on purpose.
        API_AUTH_FAILURES_PER_MINUTE="1000000",
        API_JWT_ISSUER=ISSUER,
        API_JWT_AUDIENCE=AUDIENCE,
        API_JWT_PUBLIC_KEY_FILE=str(public_key),
    )


@pytest.fixture(scope="session")
def api_worker(api_env: dict[str, str], api_workdir: Path) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(api_env, api_workdir, name="api-worker")
    with running(worker):
        worker.start()
        yield worker


@pytest.fixture(scope="session")
def api_server(api_env: dict[str, str], api_workdir: Path) -> Iterator[ApiServer]:
    server = ApiServer(api_env, api_workdir)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def seed_context(
    api_env: dict[str, str], temporal_client: Client
) -> AsyncIterator[ServiceContext]:
    """The service layer in the test process (same database, keys, Temporal and task queue as
    the server), for arranging and cleaning up below the API."""
    settings = load_settings(_env_file=None, **{k.lower(): v for k, v in api_env.items()})
    database = Database(api_env["DATABASE_URL"], pool_size=2)

    async def temporal() -> Client:
        return temporal_client

    try:
        yield ServiceContext(
            settings,
            database,
            secret_box_from_settings(api_env["CREDENTIAL_ENCRYPTION_KEYS"], settings.data_dir),
            temporal,
        )
    finally:
        await database.close()


@pytest.fixture(scope="session")
async def world(
    seed_context: ServiceContext,
    api_sandbox: SandboxServer,
    api_worker: WorkerProcess,
    jwt_issuer: JwtIssuer,
) -> AsyncIterator[World]:
    async with seed_world(seed_context, api_sandbox, jwt_issuer) as seeded:
        yield seeded


@pytest.fixture(scope="session")
def transcript() -> Transcript:
    """Every response of the session's API clients (read by the secret scan)."""
    return Transcript()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One keep-alive connection pool for every identity's requests."""
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def client_for(
    api_server: ApiServer, world: World, transcript: Transcript, http: httpx.Client
) -> Callable[[str], ApiClient]:
    """``client_for("company_admin")``: a client holding that identity's token."""

    def make(identity: str) -> ApiClient:
        token = None if identity == "no token" else world.tokens[identity]
        return ApiClient(api_server.url, token, transcript, label=identity, http=http)

    return make
