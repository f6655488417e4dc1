"""API tokens: issued once, stored as a hash, authenticated, expired, revoked, audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from core.redact import scrub_secrets
from db.database import Database
from services import tokens
from services.errors import Forbidden, Invalid, NotFound
from services.identity import Role
from tests.services.conftest import OPERATOR, Tenants


async def _rows(database: Database, sql: str) -> list[tuple[Any, ...]]:
    async with database.transaction() as connection:
        return [tuple(row) for row in await connection.execute(text(sql))]


async def test_a_token_authenticates_as_its_role_and_companies(
    database: Database, tenants: Tenants
) -> None:
    issued = await tokens.create_token(
        database,
        OPERATOR,
        name="platform",
        role="company_admin",
        company_ids=[tenants.company_a],
    )
    assert issued.token.startswith("sts_") and issued.token not in repr(issued)
    principal = await tokens.authenticate_token(database, issued.token)
    assert principal is not None
    assert principal.role is Role.COMPANY_ADMIN
    assert principal.company_ids == frozenset({tenants.company_a})
    assert principal.actor == f"token:{issued.id}:platform"
    # Stored only as a hash; the token is a registered secret from now on.
    stored = await _rows(database, "SELECT token_hash, last_used_at FROM api_tokens")
    assert stored[0][0] == tokens.hash_token(issued.token) != issued.token
    assert stored[0][1] is not None
    assert issued.token not in scrub_secrets(f"Authorization {issued.token}")
    audit = await _rows(
        database, "SELECT actor, details::text FROM audit_log WHERE action = 'token.created'"
    )
    assert audit[0][0] == OPERATOR.actor and issued.token not in audit[0][1]


async def test_unknown_expired_and_revoked_tokens_are_refused(
    database: Database, tenants: Tenants
) -> None:
    assert await tokens.authenticate_token(database, "sts_nothing-like-this") is None
    assert await tokens.authenticate_token(database, "not-even-the-prefix") is None
    expiring = await tokens.create_token(
        database, OPERATOR, name="short", role="admin", expires_in=timedelta(hours=1)
    )
    async with database.transaction() as connection:
        await connection.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1s'"))
    assert await tokens.authenticate_token(database, expiring.token) is None

    kept = await tokens.create_token(database, OPERATOR, name="kept", role="admin")
    assert await tokens.authenticate_token(database, kept.token) is not None
    revoked = await tokens.revoke_token(database, OPERATOR, kept.id)
    assert revoked.revoked_at is not None
    assert await tokens.authenticate_token(database, kept.token) is None
    with pytest.raises(NotFound):
        await tokens.revoke_token(database, OPERATOR, 9999)
    actions = await _rows(database, "SELECT action FROM audit_log WHERE action LIKE 'token.%'")
    assert sorted(a[0] for a in actions) == ["token.created", "token.created", "token.revoked"]


async def test_issuing_rules(database: Database, tenants: Tenants) -> None:
    company_admin = tenants.admin_of_a()
    with pytest.raises(Forbidden):
        await tokens.create_token(database, company_admin, name="x", role="company_user")
    with pytest.raises(Forbidden):
        await tokens.list_tokens(database, company_admin)
    with pytest.raises(Invalid) as no_company:
        await tokens.create_token(database, OPERATOR, name="x", role="company_user")
    assert no_company.value.field == "company_ids"
    with pytest.raises(Invalid):
        await tokens.create_token(
            database, OPERATOR, name="x", role="admin", company_ids=[tenants.company_a]
        )
    with pytest.raises(Invalid) as missing:
        await tokens.create_token(
            database, OPERATOR, name="x", role="company_user", company_ids=[424242]
        )
    assert "424242" in str(missing.value)
    with pytest.raises(Invalid) as role:
        await tokens.create_token(database, OPERATOR, name="x", role="root")
    assert role.value.field == "role"
    assert await tokens.list_tokens(database, OPERATOR) == []
