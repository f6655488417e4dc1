"""Services against a real, migrated database; Temporal is down unless a test needs it.

Two companies with one credential each: what the voter's tests cross between.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from temporalio.client import Client

from core.crypto import SecretBox
from core.settings import Settings, load_settings
from db import credentials
from db.database import Database
from services.context import ServiceContext
from services.errors import Unavailable
from services.identity import Principal, Role

OPERATOR = Principal.operator("cli:tester@host")


async def temporal_down() -> Client:
    raise Unavailable("Temporal is not reachable (test)")


@dataclass(frozen=True)
class Tenants:
    """Company A and B, each with one production credential."""

    company_a: int
    company_b: int
    credential_a: int
    credential_b: int

    def admin_of_a(self) -> Principal:
        return Principal("alice", Role.COMPANY_ADMIN, frozenset({self.company_a}), token_id=7)

    def user_of_a(self) -> Principal:
        return Principal("ursula", Role.COMPANY_USER, frozenset({self.company_a}))


@pytest.fixture
def service_settings(database_url: str, encryption_keys: str) -> Settings:
    return load_settings(
        _env_file=None,
        database_url=database_url,
        temporal_address="127.0.0.1:1",
        credential_encryption_keys=encryption_keys,
    )


@pytest.fixture
def ctx(service_settings: Settings, database: Database, secret_box: SecretBox) -> ServiceContext:
    return ServiceContext(service_settings, database, secret_box, temporal_down)


@pytest.fixture
async def tenants(database: Database, secret_box: SecretBox) -> Tenants:
    ids: list[int] = []
    async with database.transaction() as connection:
        for letter, tenant in (("A", "1001"), ("B", "2002")):
            company = await credentials.add_company(
                connection,
                name=f"Company {letter}",
                intacct_id=f"CO-{letter}",
                primary_trade="HVAC",
                actor="test",
            )
            credential = await credentials.add_credential(
                connection,
                secret_box,
                company_id=company,
                tenant_id=tenant,
                client_id=f"cid.client-{letter.lower()}-0001",
                client_secret=f"cs1.secret-{letter.lower()}-0001",
                environment="production",
                actor="test",
            )
            ids += [company, credential]
    return Tenants(ids[0], ids[2], ids[1], ids[3])
