"""A connection test leaves the process-wide HTTP pool open: the API serves many requests,
and beside the worker its activities use the same pool (closing it is the process's job)."""

from __future__ import annotations

from pydantic import SecretStr

from core.crypto import SecretBox
from core.settings import Settings
from db.database import Database
from services import credentials
from services.context import ServiceContext
from servicetitan.http import close_shared_http_client, shared_http_client
from tests.services.conftest import OPERATOR, Tenants, temporal_down


async def test_a_connection_test_does_not_close_the_shared_pool(
    service_settings: Settings, database: Database, secret_box: SecretBox, tenants: Tenants
) -> None:
    unreachable = "http://127.0.0.1:1"
    settings = service_settings.model_copy(
        update={
            "servicetitan_auth_url_production": unreachable,
            "servicetitan_api_url_production": unreachable,
            "servicetitan_app_key": SecretStr("test-app-key"),
        }
    )
    ctx = ServiceContext(settings, database, secret_box, temporal_down)
    pool = shared_http_client()
    try:
        check = await credentials.test_connection(ctx, OPERATOR, tenants.credential_a)
        assert not check.connected
        assert not pool.is_closed
    finally:
        await close_shared_http_client()
