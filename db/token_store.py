"""Access tokens cached in PostgreSQL, encrypted, shared by every worker process.

The token lives in ``servicetitan_credentials.access_token`` (AES-GCM, bound to its row) with
``token_expires_at``. Refreshes are serialised across processes by a PostgreSQL advisory lock
held on a dedicated connection for the duration of the refresh: the second process waits,
then finds the fresh token the first one saved and never calls ServiceTitan itself. Within a
process an asyncio lock per credential keeps waiting processes off the database.

The store also keeps, in memory, the token it last loaded or saved per credential
(``recent``): while that one is fresh a client uses it without a read, so a request costs no
database round trip for its token. A refresh always reads the table (another process may have
saved a newer token), and a refused token is dropped from memory with the row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text, update

from core.crypto import DecryptionError, SecretBox
from db.credentials import credential_aad
from db.database import Database
from db.schema import ServiceTitanCredential
from servicetitan.tokens import AccessToken

# First key of the two-int advisory lock: "token refresh"; the second is the credential id.
TOKEN_LOCK_CLASS = 0x5374_546B  # "StTk"


class DatabaseTokenStore:
    """``servicetitan.tokens.TokenStore`` backed by the credentials table."""

    def __init__(self, database: Database, box: SecretBox) -> None:
        self._database = database
        self._box = box
        self._locks: dict[int, asyncio.Lock] = {}
        self._recent: dict[int, AccessToken] = {}

    def recent(self, credential_id: int) -> AccessToken | None:
        return self._recent.get(credential_id)

    def forget(self, credential_id: int) -> None:
        """Drop the token kept in memory (the credential's tenant or secrets changed)."""
        self._recent.pop(credential_id, None)

    async def load(self, credential_id: int) -> AccessToken | None:
        token = await self._read(credential_id)
        if token is None:
            self.forget(credential_id)
        else:
            self._recent[credential_id] = token
        return token

    async def _read(self, credential_id: int) -> AccessToken | None:
        c = ServiceTitanCredential
        async with self._database.transaction() as connection:
            row = (
                await connection.execute(
                    select(c.access_token, c.token_expires_at).where(c.id == credential_id)
                )
            ).one_or_none()
        if row is None or row[0] is None or row[1] is None:
            return None
        try:
            value = self._box.decrypt(
                row[0],
                aad=credential_aad(credential_id, "access_token"),
                what=f"access token of credential {credential_id}",
            )
        except DecryptionError:
            return None  # a token is disposable: a new one will be requested
        return AccessToken(value=value, expires_at=row[1])

    async def save(self, credential_id: int, token: AccessToken) -> None:
        c = ServiceTitanCredential
        async with self._database.transaction() as connection:
            await connection.execute(
                update(c)
                .where(c.id == credential_id)
                .values(
                    access_token=self._box.encrypt(
                        token.value, aad=credential_aad(credential_id, "access_token")
                    ),
                    token_expires_at=token.expires_at,
                    updated_at=func.now(),
                )
            )
        self._recent[credential_id] = token

    async def invalidate(self, credential_id: int, token_value: str) -> None:
        current = await self.load(credential_id)
        if current is None or current.value != token_value:
            return
        c = ServiceTitanCredential
        async with self._database.transaction() as connection:
            await connection.execute(
                update(c)
                .where(c.id == credential_id)
                .values(access_token=None, token_expires_at=None, updated_at=func.now())
            )
        self.forget(credential_id)

    @asynccontextmanager
    async def refresh_lock(self, credential_id: int) -> AsyncIterator[None]:
        local = self._locks.setdefault(credential_id, asyncio.Lock())
        async with local, self._database.engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:kind, :credential)"),
                {"kind": TOKEN_LOCK_CLASS, "credential": credential_id},
            )
            try:
                yield
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:kind, :credential)"),
                    {"kind": TOKEN_LOCK_CLASS, "credential": credential_id},
                )
                await connection.commit()
