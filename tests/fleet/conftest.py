"""The services tests' world (two companies, one credential each, Temporal down) for the
fleet's service-level tests; the end-to-end journey brings its own processes."""

from __future__ import annotations

from tests.cli.conftest import pytest_configure, pytest_runtest_makereport, pytest_runtest_setup
from tests.services.conftest import ctx, service_settings, tenants

__all__ = [
    "ctx",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "service_settings",
    "tenants",
]
