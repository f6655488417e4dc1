"""The API beside the worker on embedded defaults (``./dev run``): one process, one demo.

Only when both PostgreSQL and Temporal are the embedded ones (a laptop, not a deployment,
which runs ``starter.py api serve`` as its own service). It shares the worker's database
pool, secret box and Temporal client, and prints where the docs are with a fresh demo admin
token (valid for a day; the previous demo token is revoked), straight to the terminal: a log
line would redact it.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from temporalio.client import Client

from api.app import create_app
from api.server import start
from core.crypto import SecretBox
from core.infrastructure import Infrastructure
from core.logging import get_logger
from core.settings import Settings
from db.database import Database
from services import tokens
from services.context import ServiceContext
from services.identity import Principal, Role

log = get_logger(__name__)

DEMO_NAME = "dev-run demo"  # the token's name, shown by `tokens list`
DEMO_TOKEN_LIFETIME = timedelta(days=1)


async def demo_token(database: Database) -> str:
    """A new admin token for the demo; earlier demo tokens are revoked."""
    operator = Principal.operator("demo")
    for row in await tokens.list_tokens(database, operator):
        if row.name == DEMO_NAME and row.revoked_at is None:
            await tokens.revoke_token(database, operator, row.id)
    issued = await tokens.create_token(
        database,
        operator,
        name=DEMO_NAME,
        role=Role.ADMIN,
        expires_in=DEMO_TOKEN_LIFETIME,
    )
    return issued.token


async def serve_beside_worker(
    settings: Settings, client: Client, infra: Infrastructure, database: Database, box: SecretBox
) -> None:
    """Serve until cancelled (the worker's shutdown); nothing unless fully embedded."""
    if not (infra.embedded_database and infra.embedded_temporal):
        return

    async def temporal() -> Client:
        return client

    app = create_app(settings, context=ServiceContext(settings, database, box, temporal))
    try:
        running = await start(app, settings.api_host, settings.api_port)
    except OSError as error:
        log.warning(
            "the HTTP API did not start; the worker runs without it (set API_PORT)",
            address=f"{settings.api_host}:{settings.api_port}",
            error=str(error),
        )
        return
    try:
        token = await demo_token(database)
        print(
            f"\nHTTP API: {running.url}  (docs: {running.url}/docs)\n"
            f"demo admin token (valid {DEMO_TOKEN_LIFETIME.days} day): {token}\n"
            f'  curl -H "Authorization: Bearer {token}" {running.url}/api/servicetitan/dashboard\n',
            file=sys.stderr,
            flush=True,
        )
        await asyncio.shield(running.task)  # cancelling us must not cancel uvicorn mid-request
    finally:
        await running.stop()
