"""Tracing, with an in-memory exporter: a sync is one trace, from the client's start request
through the workflow and every activity down to its HTTP calls and database statements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from core import tracing
from db.database import Database
from sandbox.server import serve_in_thread
from sandbox.state import Sandbox
from tests.observability.conftest import GOOD
from tests.sync.harness import sync_harness


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.setup_tracing(exporter) is not None
    try:
        yield exporter
    finally:
        tracing.shutdown_tracing()


def test_tracing_is_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    tracing.shutdown_tracing()
    assert tracing.setup_tracing() is None
    assert tracing.client_interceptors() == []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    tracing.shutdown_tracing()
    try:
        [interceptor] = tracing.client_interceptors()
        assert type(interceptor).__name__ == "TracingInterceptor"
    finally:
        tracing.shutdown_tracing()


async def test_a_sync_is_one_trace_down_to_http_and_sql(
    spans: InMemorySpanExporter,
    sandbox: Sandbox,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> None:
    # Everything that connects is made after tracing started: its client, its pool, its HTTP.
    client = await Client.connect(
        temporal_client.service_client.config.target_host,
        namespace=temporal_client.namespace,
        interceptors=tracing.client_interceptors(),
    )
    database = Database(database_url, pool_size=5)
    try:
        with serve_in_thread(sandbox) as server:
            async with sync_harness(
                sandbox=sandbox,
                database=database,
                database_url=database_url,
                client=client,
                encryption_keys=encryption_keys,
                tmp_path=tmp_path,
                base_url=server.base_url,
            ) as harness:
                credential = await harness.add_tenant(GOOD)
                spans.clear()  # onboarding is not part of the sync
                assert (await harness.sync(credential)).status == "completed"
    finally:
        await database.close()

    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished}
    [start] = [s for s in finished if s.name == "StartWorkflow:SyncWorkflow"]
    trace_id = start.context.trace_id

    def ancestors(span: ReadableSpan) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            names.append(span.name)
        return names

    of_sync = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in of_sync}
    for activity in ("start_run", "refresh_token", "fetch_pages", "map_and_insert_pages"):
        assert f"RunActivity:{activity}" in names, activity
    assert "RunActivity:finish_run" in names
    # The workflow runs under the start request; each activity runs under the workflow's
    # scheduling of it, which is under the start request (the interceptor parents a
    # workflow's outbound calls to the context the workflow was started with).
    [run] = [s for s in of_sync if s.name == "RunWorkflow:SyncWorkflow"]
    assert ancestors(run) == [start.name]
    for span in of_sync:
        if span.name.startswith("RunActivity:"):
            chain = ancestors(span)
            assert chain == [span.name.replace("Run", "Start", 1), start.name], chain

    # HTTP calls to ServiceTitan (the sandbox) under the fetch activity, with the route's method.
    http = [s for s in of_sync if s.kind.name == "CLIENT" and s.name.startswith(("GET", "POST"))]
    assert http, names
    fetch_http = [s for s in http if "RunActivity:fetch_pages" in ancestors(s)]
    assert fetch_http, "no HTTP span under fetch_pages"
    token_http = [s for s in http if "RunActivity:refresh_token" in ancestors(s)]
    assert [s.name for s in token_http] == ["POST"]

    # Database statements under the apply activity: the rows' upserts among them.
    sql = [s for s in of_sync if (s.attributes or {}).get("db.system") == "postgresql"]
    apply_sql = [s for s in sql if "RunActivity:map_and_insert_pages" in ancestors(s)]
    statements = " ".join(str((s.attributes or {}).get("db.statement", "")) for s in apply_sql)
    assert "INSERT INTO" in statements and "invoices_stream" in statements
    # Statement text only: no record values travel in spans.
    assert not [s for s in sql if any("parameters" in key for key in (s.attributes or {}))]
    # Nothing of the sync is left outside the trace.
    strays = [
        s.name
        for s in finished
        if s.context.trace_id != trace_id and s.name.startswith(("RunActivity", "GET", "POST"))
    ]
    assert not strays
