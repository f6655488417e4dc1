"""OpenTelemetry tracing: off unless an OTLP endpoint is configured.

When ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, spans
go over OTLP/HTTP to that collector. A sync is then one trace: the Temporal client's start
request, the workflow, every activity (``temporalio.contrib.opentelemetry``'s interceptor,
which carries the context through Temporal headers), and inside each activity its
ServiceTitan HTTP calls (httpx) and its database statements (psycopg; statement text only,
never parameters). The standard ``OTEL_*`` variables (service name, headers, sampler) apply.

``setup_tracing`` is idempotent; ``client_interceptors`` (used by ``core.temporal.connect``)
sets it up on first use, so the worker and the CLI's start requests share one configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio.client import Interceptor

from core.logging import get_logger

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = get_logger(__name__)

SERVICE_NAME = "servicetitan-sync"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass
class Tracing:
    provider: TracerProvider

    def interceptor(self) -> Interceptor:
        from temporalio.contrib.opentelemetry import TracingInterceptor

        return TracingInterceptor(self.provider.get_tracer(__name__))


_active: Tracing | None = None
_checked = False


def otlp_endpoint() -> str | None:
    """The configured OTLP endpoint, or None (tracing off)."""
    for name in ENDPOINT_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def setup_tracing(exporter: SpanExporter | None = None) -> Tracing | None:
    """Start tracing to ``exporter``, or to the OTLP endpoint; None when neither is given.

    Instruments httpx and psycopg for the whole process, so call it before the HTTP client and
    the database pool make their first connections (connections made earlier are not traced).
    """
    global _active, _checked
    if _active is not None:
        return _active
    _checked = True
    if exporter is None and otlp_endpoint() is None:
        return None
    from opentelemetry import trace
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)}
        )
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        log.info("tracing to OTLP", endpoint=otlp_endpoint())
    else:  # tests: every span at once, nothing global
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(
        tracer_provider=provider, skip_dep_check=True, capture_parameters=False
    )
    _active = Tracing(provider)
    return _active


def client_interceptors() -> list[Interceptor]:
    """The Temporal client's interceptors: the tracing one when tracing is on (the worker
    built on that client uses it too)."""
    active = _active if _checked else setup_tracing()
    return [active.interceptor()] if active is not None else []


def shutdown_tracing() -> None:
    """Flush pending spans and undo the instrumentation (worker shutdown, tests)."""
    global _active, _checked
    active, _active, _checked = _active, None, False
    if active is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    PsycopgInstrumentor().uninstrument()
    active.provider.shutdown()
