"""What commands need, built lazily: settings, infrastructure, database, Temporal client.

``starter.py companies list`` should not start a Temporal server, and ``--help`` should not
touch anything, so each resource is made on first use and shared for the command's life.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import Client

from core.crypto import SecretBox, secret_box_from_settings
from core.infrastructure import resolve_database_url, resolve_temporal
from core.settings import Settings, get_settings
from core.temporal import connect, ensure_search_attributes
from db import migrate
from db.audit import default_actor
from db.database import Database
from services.context import ServiceContext
from services.identity import Principal
from servicetitan.http import close_shared_http_client


@dataclass
class CommandContext:
    json_output: bool = False
    settings: Settings = field(default_factory=get_settings)
    _database: Database | None = None
    _database_url: str | None = None
    _box: SecretBox | None = None
    _client: Client | None = None
    _ui_url: str | None = None

    @property
    def actor(self) -> str:
        return default_actor()

    @property
    def principal(self) -> Principal:
        """The operator: admin over every company, audited as the OS user."""
        return Principal.operator(self.actor)

    @property
    def services(self) -> ServiceContext:
        """What the service layer needs; builds the database and secret box on first use."""
        return ServiceContext(self.settings, self.database, self.box, self.temporal)

    @property
    def database_url(self) -> str:
        if self._database_url is None:
            url, embedded = resolve_database_url(self.settings)
            migrate.prepare(url, embedded=embedded)
            self._database_url = url
        return self._database_url

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.database_url, pool_size=2)
        return self._database

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            keys = self.settings.credential_encryption_keys
            self._box = secret_box_from_settings(
                keys.get_secret_value() if keys else None, self.settings.data_dir
            )
        return self._box

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.database.transaction() as connection:
            yield connection

    async def temporal(self) -> Client:
        if self._client is None:
            address, ui_url, _embedded = resolve_temporal(self.settings)
            self._ui_url = ui_url
            self._client = await connect(self.settings, address)
            await ensure_search_attributes(self._client, self.settings.temporal_namespace)
        return self._client

    @property
    def ui_url(self) -> str | None:
        return self._ui_url

    async def close(self) -> None:
        await close_shared_http_client()  # a command's ServiceTitan calls share one pool
        if self._database is not None:
            await self._database.close()
