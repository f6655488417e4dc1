"""API tokens: issue (shown once), list, revoke, and authenticate a presented token.

A token is ``sts_`` + 32 random bytes (URL-safe base64); only its SHA-256 is stored, so a
database dump yields no usable token. Issuing and revoking are the admin's, and audited.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.redact import register_secret
from db import api_tokens, audit
from db.api_tokens import ApiTokenRow
from db.database import Database
from db.schema import Company
from services.access import require_admin
from services.errors import Invalid, NotFound
from services.identity import Principal, Role

PREFIX = "sts_"
MAX_NAME = 100


@dataclass(frozen=True)
class IssuedToken:
    """The one time the token's text exists outside its holder."""

    id: int
    token: str

    def __repr__(self) -> str:
        return f"IssuedToken(id={self.id}, token=[REDACTED])"


TokenView = ApiTokenRow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(
            f"role must be one of {', '.join(r.value for r in Role)} (got {role!r})", "role"
        ) from None


async def create_token(
    database: Database,
    principal: Principal,
    *,
    name: str,
    role: str | Role,
    company_ids: Collection[int] = (),
    expires_in: timedelta | None = None,
) -> IssuedToken:
    """Issue a token for ``role``; company roles need at least one existing company."""
    require_admin(principal, "issue API tokens")
    chosen = _role(role)
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"name must be 1 to {MAX_NAME} characters", "name")
    companies = frozenset(company_ids)
    if chosen is Role.ADMIN and companies:
        raise Invalid("an admin token acts for every company: give no --company", "company_ids")
    if chosen is not Role.ADMIN and not companies:
        raise Invalid(f"a {chosen} token needs at least one company", "company_ids")
    if expires_in is not None and expires_in <= timedelta(0):
        raise Invalid("the lifetime must be positive", "expires_in")
    token = PREFIX + secrets.token_urlsafe(32)
    register_secret(token)
    expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
    async with database.transaction() as connection:
        if companies:
            known = set(
                (
                    await connection.scalars(select(Company.id).where(Company.id.in_(companies)))
                ).all()
            )
            if missing := sorted(companies - known):
                raise Invalid(f"no company with id {missing[0]}", "company_ids")
        token_id = await api_tokens.insert_token(
            connection,
            name=name,
            token_hash=hash_token(token),
            role=chosen.value,
            company_ids=companies,
            expires_at=expires_at,
            created_by=principal.actor,
        )
        await audit.record(
            connection,
            "token.created",
            actor=principal.actor,
            details={
                "token_id": token_id,
                "name": name,
                "role": chosen.value,
                "company_ids": sorted(companies),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return IssuedToken(id=token_id, token=token)


async def list_tokens(database: Database, principal: Principal) -> list[TokenView]:
    require_admin(principal, "list API tokens")
    async with database.transaction() as connection:
        return await api_tokens.list_tokens(connection)


async def revoke_token(database: Database, principal: Principal, token_id: int) -> TokenView:
    """Revoke a token at once (revoking a revoked token changes nothing)."""
    require_admin(principal, "revoke API tokens")
    async with database.transaction() as connection:
        row = await api_tokens.get_token(connection, token_id)
        if row is None:
            raise NotFound(f"no API token with id {token_id}")
        if row.revoked_at is None:
            await api_tokens.revoke(connection, token_id)
            await audit.record(
                connection,
                "token.revoked",
                actor=principal.actor,
                details={"token_id": token_id, "name": row.name},
            )
        revoked = await api_tokens.get_token(connection, token_id)
    assert revoked is not None
    return revoked


async def authenticate_token(database: Database, token: str) -> Principal | None:
    """The principal of a valid token; None for an unknown, expired or revoked one."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    async with database.transaction() as connection:
        row = await api_tokens.find_by_hash(connection, hash_token(token))
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
            return None
        await api_tokens.touch(connection, row.id)
    register_secret(token)  # only a real token: strangers' strings must not evict real secrets
    return Principal(
        subject=row.name,
        role=Role(row.role),
        company_ids=frozenset(row.company_ids),
        token_id=row.id,
    )
