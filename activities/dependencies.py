"""Everything the activities share in one worker process, built once at start-up.

One database engine, one HTTP pool (inside the client package), one token store, one
ServiceTitan rate limit shared with the other workers (in PostgreSQL), one encryption key
ring, one mapping pool, one page hand-off. ``client_for`` builds a ServiceTitan
client for a credential from its stored (encrypted) secrets; clients are cheap, and the
decrypted credential is kept until its tenant, environment or secrets change (checked on every
use, one key lookup).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from temporalio.client import Client

from activities import errors
from activities.mapping_pool import MappingPool, shared_mapping_pool
from activities.page_handoff import PageHandoff
from activities.prefetch import Prefetches
from core.crypto import DecryptionError, SecretBox
from core.settings import Settings
from db import credentials as credential_store
from db.database import Database
from db.rate_limits import SharedRateLimiters
from db.token_store import DatabaseTokenStore
from servicetitan.client import ServiceTitanClient
from servicetitan.config import ClientConfig, Credentials


@dataclass
class SyncDependencies:
    settings: Settings
    database: Database
    box: SecretBox
    client_config: ClientConfig
    temporal: Client | None = None
    identity: str = "worker"
    worker_queue: str | None = None
    """This worker's own task queue (activities only), where a stream's work follows it."""
    http: httpx.AsyncClient | None = None  # None: the client package's shared pool
    token_store: DatabaseTokenStore = field(init=False)
    rate_limiters: SharedRateLimiters = field(init=False)
    handoff: PageHandoff = field(default_factory=PageHandoff)
    prefetches: Prefetches = field(default_factory=Prefetches)
    mapping: MappingPool = field(init=False)
    _credentials: dict[int, tuple[credential_store.CredentialVersion, Credentials]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        self.token_store = DatabaseTokenStore(self.database, self.box)
        self.rate_limiters = SharedRateLimiters(self.database.engine)
        self.mapping = shared_mapping_pool(self.settings.sync_mapping_processes)

    @property
    def actor(self) -> str:
        return f"worker:{self.identity}"

    async def credentials(self, credential_id: int) -> Credentials:
        """The credential's decrypted client id and secret.

        Read afresh whenever its tenant, environment or secrets changed since it was cached,
        so a new one is used by the next activity on every worker; the access token this
        process kept for the old one is dropped with it. A
        credential that is gone or cannot be decrypted fails the activity at once
        (non-retryable, with a readable message): no retry would fix either.
        """
        try:
            async with self.database.transaction() as connection:
                version = await credential_store.credential_version(connection, credential_id)
                cached = self._credentials.get(credential_id)
                if cached is not None and cached[0] == version:
                    return cached[1]
                context = await credential_store.credential_context(connection, credential_id)
                secrets = await credential_store.load_secrets(connection, self.box, credential_id)
        except credential_store.NotFoundError as error:
            raise errors.from_lookup(error) from None
        except DecryptionError as error:
            raise errors.from_decryption(error) from None
        value = Credentials(
            credential_id=credential_id,
            tenant_id=int(context.tenant_id),
            environment="production" if context.environment == "production" else "integration",
            client_id=secrets.client_id,
            client_secret=secrets.client_secret,
        )
        if credential_id in self._credentials:
            self.token_store.forget(credential_id)
        self._credentials[credential_id] = (version, value)
        return value

    def forget(self, credential_id: int) -> None:
        """Drop cached secrets (after a rejection, so a rotated secret is read at once)."""
        self._credentials.pop(credential_id, None)

    async def client_for(self, credential_id: int) -> ServiceTitanClient:
        return ServiceTitanClient(
            await self.credentials(credential_id),
            self.client_config,
            self.token_store,
            http=self.http,
            rate_limiters=self.rate_limiters,
        )
