"""Fixtures of the observability tests: a sandbox with a good tenant and one whose secret the
tests get wrong, and a Temporal runtime serving Prometheus metrics on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.metrics import HISTOGRAM_BUCKETS
from runtime.metrics_collector import observe
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.deploy.conftest import free_port

GOOD, BAD = 4101, 4102


@pytest.fixture
def sandbox() -> Sandbox:
    """Pages of 40, so each stream of the good tenant spans several pages and batches."""
    return Sandbox(
        SandboxConfig(
            tenants=[TenantSpec.make(GOOD, 150, 260), TenantSpec.make(BAD, 5, 5)],
            export_page_size=40,
        )
    )


@dataclass(frozen=True)
class MetricsEndpoint:
    runtime: Runtime
    url: str


@pytest.fixture
def metrics_endpoint() -> Iterator[MetricsEndpoint]:
    """A runtime like the worker's (``core.temporal.metrics_runtime``) with the product metrics
    installed on it, as ``run_worker`` does; back to the no-op meter afterwards."""
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{port}", histogram_bucket_overrides=HISTOGRAM_BUCKETS
            )
        )
    )
    observe(runtime)
    try:
        yield MetricsEndpoint(runtime, f"http://127.0.0.1:{port}/metrics")
    finally:
        observe(None)
