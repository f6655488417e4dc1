from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from db.database import Database
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.sync.harness import SyncHarness, sync_harness

TENANT = 1001


@pytest.fixture
def sandbox() -> Sandbox:
    """A small tenant with pages of 50, so a sync spans many pages of each stream."""
    return Sandbox(
        SandboxConfig(
            tenants=[TenantSpec.make(TENANT, customers=240, invoices=430)], export_page_size=50
        )
    )


@pytest.fixture
async def harness(
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> AsyncIterator[SyncHarness]:
    async with sync_harness(
        sandbox=sandbox,
        database=database,
        database_url=database_url,
        client=temporal_client,
        encryption_keys=encryption_keys,
        tmp_path=tmp_path,
    ) as running:
        yield running
