"""The sandbox the sync tests run against; ``harness`` comes from tests/sync/harness.py."""

from __future__ import annotations

import pytest

from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox

TENANT = 1001


@pytest.fixture
def sandbox() -> Sandbox:
    """A small tenant with pages of 50, so a sync spans many pages of each stream."""
    return Sandbox(
        SandboxConfig(
            tenants=[TenantSpec.make(TENANT, customers=240, invoices=430)], export_page_size=50
        )
    )
