"""The API process's resources: a ``ServiceContext`` built from settings, closed on shutdown.

PostgreSQL is required at start (a configured database must already be migrated; the embedded
one is migrated here, as the worker does). Temporal is resolved at start but connected on
first use and again after a failure, so the API starts and keeps serving reads while Temporal
is down; what needs Temporal answers 503 meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from temporalio.client import Client

from core.crypto import secret_box_from_settings
from core.infrastructure import resolve_database_url, resolve_temporal
from core.settings import Settings
from core.temporal import connect, ensure_search_attributes
from db import migrate
from db.database import Database
from services.context import ServiceContext

CONNECT_WAIT_SECONDS = 3.0
DATABASE_POOL_SIZE = 10


@dataclass
class LazyTemporal:
    """One shared client, connected on first use (a failed attempt is retried next time)."""

    settings: Settings
    address: str
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def __call__(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                client = await connect(
                    self.settings, self.address, wait_seconds=CONNECT_WAIT_SECONDS
                )
                await ensure_search_attributes(client, self.settings.temporal_namespace)
                self._client = client
        return self._client


def build_context(settings: Settings) -> ServiceContext:
    """Resolve, migrate (embedded only) and connect lazily; blocking, so call it in a thread."""
    url, embedded = resolve_database_url(settings)
    migrate.prepare(url, embedded=embedded)
    address, _ui_url, _embedded = resolve_temporal(settings)
    keys = settings.credential_encryption_keys
    box = secret_box_from_settings(keys.get_secret_value() if keys else None, settings.data_dir)
    database = Database(url, pool_size=DATABASE_POOL_SIZE)
    return ServiceContext(settings, database, box, LazyTemporal(settings, address))
