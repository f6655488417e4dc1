"""HTTP API tokens (``api_tokens``): stored by hash, looked up by hash, revoked, listed.

Only the SHA-256 of a token reaches the database; issuing, the role rules and the audit are
``services.tokens``'s job.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import ApiToken


@dataclass(frozen=True)
class ApiTokenRow:
    """A token as stored (its hash is not part of it)."""

    id: int
    name: str
    role: str
    company_ids: list[int]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_by: str


def _columns() -> tuple[Any, ...]:
    t = ApiToken
    return (
        t.id,
        t.name,
        t.role,
        t.company_ids,
        t.created_at,
        t.expires_at,
        t.revoked_at,
        t.last_used_at,
        t.created_by,
    )


async def insert_token(
    connection: AsyncConnection,
    *,
    name: str,
    token_hash: str,
    role: str,
    company_ids: Collection[int],
    expires_at: datetime | None,
    created_by: str,
) -> int:
    token_id = await connection.scalar(
        insert(ApiToken)
        .values(
            name=name,
            token_hash=token_hash,
            role=role,
            company_ids=sorted(company_ids),
            expires_at=expires_at,
            created_by=created_by,
        )
        .returning(ApiToken.id)
    )
    assert token_id is not None
    return int(token_id)


async def list_tokens(connection: AsyncConnection) -> list[ApiTokenRow]:
    rows = await connection.execute(select(*_columns()).order_by(ApiToken.id))
    return [ApiTokenRow(*row) for row in rows]


async def get_token(connection: AsyncConnection, token_id: int) -> ApiTokenRow | None:
    row = (
        await connection.execute(select(*_columns()).where(ApiToken.id == token_id))
    ).one_or_none()
    return ApiTokenRow(*row) if row is not None else None


async def find_by_hash(connection: AsyncConnection, token_hash: str) -> ApiTokenRow | None:
    row = (
        await connection.execute(select(*_columns()).where(ApiToken.token_hash == token_hash))
    ).one_or_none()
    return ApiTokenRow(*row) if row is not None else None


async def revoke(connection: AsyncConnection, token_id: int) -> None:
    """Mark the token revoked (a second revoke keeps the first time)."""
    await connection.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def touch(connection: AsyncConnection, token_id: int) -> None:
    """Record a use of the token."""
    await connection.execute(
        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=func.now())
    )
