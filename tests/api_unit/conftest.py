"""The API app in-process (httpx over ASGI) on a real, migrated database; Temporal is down.

Unit tests of the transport layer (auth, problems, limits, rendering): the real-server
end-to-end tests are in tests/api.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from core.crypto import SecretBox
from core.settings import Settings, load_settings
from db.database import Database
from services import tokens
from services.context import ServiceContext
from services.errors import Unavailable
from services.identity import Principal

MakeClient = Callable[..., httpx.AsyncClient]


async def _temporal_down() -> Client:
    raise Unavailable("Temporal is not reachable (test)")


@pytest.fixture
def api_settings(database_url: str, encryption_keys: str) -> Settings:
    return load_settings(
        _env_file=None,
        database_url=database_url,
        temporal_address="127.0.0.1:1",
        credential_encryption_keys=encryption_keys,
        api_auth_failures_per_minute=3,
        api_max_body_bytes=2048,
    )


@pytest.fixture
def context(api_settings: Settings, database: Database, secret_box: SecretBox) -> ServiceContext:
    return ServiceContext(api_settings, database, secret_box, _temporal_down)


@pytest.fixture
async def app(api_settings: Settings, context: ServiceContext) -> AsyncIterator[FastAPI]:
    application = create_app(api_settings, context=context)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.fixture
async def admin_token(database: Database) -> str:
    issued = await tokens.create_token(
        database, Principal.operator("test"), name="admin", role="admin"
    )
    return issued.token
