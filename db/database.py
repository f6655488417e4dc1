"""The process's handle on PostgreSQL: one async engine, short transactions.

Repositories take an ``AsyncConnection`` so a caller can put several of them in one
transaction (the sync's "rows + cursor + progress in one commit" rule needs exactly that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import make_async_engine


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine: AsyncEngine = make_async_engine(url, pool_size=pool_size)

    def __repr__(self) -> str:  # the URL may hold a password
        return "Database(...)"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        async with self.engine.begin() as connection:
            yield connection

    async def close(self) -> None:
        await self.engine.dispose()
