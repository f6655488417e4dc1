"""Connecting to Temporal: one client per process, metrics runtime, search attributes.

``connect`` waits for a server that is still starting (the embedded one takes a moment) and
turns "nothing there" into one readable error naming the address. ``ensure_search_attributes``
registers the project's keys on any server where they are missing, so the worker works the
same against the embedded server, a docker-compose stack or a self-hosted cluster.
"""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from contracts.search_attributes import ALL_KEYS
from core.logging import get_logger
from core.metrics import HISTOGRAM_BUCKETS
from core.settings import Settings
from core.tracing import client_interceptors

log = get_logger(__name__)

_runtime: Runtime | None = None


class TemporalUnavailableError(Exception):
    """No Temporal server answered at the configured address."""


def metrics_runtime(metrics_address: str | None) -> Runtime | None:
    """A Runtime exporting SDK metrics to Prometheus at ``metrics_address`` (once per process)."""
    global _runtime
    if metrics_address is None:
        return None
    if _runtime is None:
        _runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=metrics_address, histogram_bucket_overrides=HISTOGRAM_BUCKETS
                )
            )
        )
        log.info("serving Prometheus metrics", address=metrics_address)
    return _runtime


async def connect(
    settings: Settings,
    address: str,
    *,
    runtime: Runtime | None = None,
    wait_seconds: float = 30.0,
) -> Client:
    """Connect, retrying while the server starts; a readable error when it never answers."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(
                address,
                namespace=settings.temporal_namespace,
                api_key=api_key,
                tls=settings.temporal_tls or api_key is not None,
                runtime=runtime,
                interceptors=client_interceptors(),  # tracing, when configured
            )
        except RuntimeError as error:
            if asyncio.get_running_loop().time() > deadline:
                raise TemporalUnavailableError(
                    f"cannot reach Temporal at {address} (TEMPORAL_ADDRESS): {error}"
                ) from None
            await asyncio.sleep(0.5)


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register any missing project search attribute; returns the names added."""
    service = client.operator_service
    try:
        existing = await service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as error:
        log.warning("cannot list search attributes; skipping registration", error=str(error))
        return []
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in ALL_KEYS
        if key.name not in existing.custom_attributes
    }
    if not missing:
        return []
    try:
        await service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as error:
        log.warning(
            "cannot register search attributes (register them with "
            "`temporal operator search-attribute create`)",
            missing=sorted(missing),
            error=str(error),
        )
        return []
    log.info("registered search attributes", names=sorted(missing))
    return sorted(missing)
