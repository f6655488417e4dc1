"""A scrape of the worker's metrics endpoint after it synced the sandbox: every product metric
is exported, its values agree with the tables the sync wrote, and every dashboard query and
alert rule names metrics and labels that the scrape really has.

One good tenant (with records that must be quarantined and one forced 429) and one whose
secret is wrong (token failures, a failed run), synced by a real worker on real Temporal and
PostgreSQL; then the fleet collector runs once, as the worker's loop does, and the endpoint
is scraped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError

from core import metrics
from core.settings import Settings
from db.database import Database
from runtime.alerting import METRIC_STALE, export_gauges
from runtime.metrics_collector import ResourceSampler, collect_once
from sandbox.state import Sandbox
from tests.observability.conftest import BAD, GOOD, MetricsEndpoint
from tests.observability.promql import (
    Sample,
    alert_expressions,
    dashboard_queries,
    exported,
    parse_scrape,
    unknown_names,
    value,
)
from tests.sync.harness import sync_harness

STREAM_TABLES = {
    "customer_contacts": "servicetitan_customer_contacts",
    "customers": "members_stream",
    "invoices": "invoices_stream",
}
EVERY_PRODUCT_SERIES = [
    metrics.API_REQUEST_DURATION + "_bucket",
    metrics.API_THROTTLED,
    metrics.API_RETRY_AFTER + "_sum",
    metrics.API_AUTH_REQUESTS,
    metrics.RUNS_STARTED,
    metrics.RUNS_FINISHED,
    metrics.RUN_DURATION + "_bucket",
    metrics.RECORDS,
    metrics.PAGES_FETCHED,
    metrics.DATA_AGE,
    metrics.SUCCESS_AGE,
    metrics.OUTBOX_PENDING,
    metrics.OUTBOX_OLDEST_AGE,
    metrics.STAGED_WAITING,
    metrics.WORKER_CPU,
    metrics.WORKER_RSS,
]


@dataclass
class Scrape:
    samples: list[Sample]
    good: int
    bad: int
    rows: dict[str, int]
    """Per stream: rows of the good tenant in its table."""
    rejected: dict[str, int]
    pages: dict[str, int]
    """Per stream: pages applied (servicetitan_sync_state)."""
    data_age: dict[str, float]
    outbox_pending: int


@pytest.fixture
async def scrape(
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    metrics_endpoint: MetricsEndpoint,
) -> Scrape:
    """Sync both tenants, collect the fleet gauges once, scrape, read the tables."""
    sandbox.inject_bad_records(GOOD, "invoices", ["wrong_type_id", "unparsable_modified_on"])
    sandbox.force_429(count=1, retry_after=1, tenant_id=GOOD, endpoint="export_invoices")
    client = await Client.connect(
        temporal_client.service_client.config.target_host,
        namespace=temporal_client.namespace,
        runtime=metrics_endpoint.runtime,
    )
    async with sync_harness(
        sandbox=sandbox,
        database=database,
        database_url=database_url,
        client=client,
        encryption_keys=encryption_keys,
        tmp_path=tmp_path,
    ) as harness:
        good = await harness.add_tenant(GOOD)
        bad = await harness.add_tenant(BAD, secret="cs1.not-the-secret")
        assert (await harness.sync(good)).status == "completed"
        try:
            failed = (await harness.sync(bad)).status
        except WorkflowFailureError:
            failed = "failed"
        assert failed == "failed"
        await collect_once(database, metrics.current(), ResourceSampler())
        await _export_alert_gauges(metrics_endpoint, database, client, harness.settings)
        async with httpx.AsyncClient() as http:
            text = (await http.get(metrics_endpoint.url, timeout=10)).text

        def count(sql: str) -> int:
            return int(harness.scalar(sql, str(GOOD)))

        rows = {
            stream: count(f"SELECT count(*) FROM {table} WHERE source_tenant_id = %s")  # noqa: S608
            for stream, table in STREAM_TABLES.items()
        }
        rejected = dict(
            harness.rows(
                "SELECT stream, count(*)::int FROM servicetitan_rejected_records "
                "WHERE credential_id = %s GROUP BY stream",
                good,
            )
        )
        pages = dict(
            harness.rows(
                "SELECT stream, pages_applied::int FROM servicetitan_sync_state "
                "WHERE credential_id = %s",
                good,
            )
        )
        data_age = dict(
            harness.rows(
                "SELECT stream, EXTRACT(EPOCH FROM now() - high_water_modified_on)::float8 "
                "FROM servicetitan_sync_state WHERE credential_id = %s",
                good,
            )
        )
        outbox = int(
            harness.scalar(
                "SELECT count(*) FROM servicetitan_dispatch_outbox WHERE acknowledged_at IS NULL"
            )
        )
    return Scrape(parse_scrape(text), good, bad, rows, rejected, pages, data_age, outbox)


async def test_a_scrape_after_a_sandbox_sync_matches_the_tables(scrape: Scrape) -> None:
    samples, good = scrape.samples, str(scrape.good)
    names = {sample.name for sample in samples}
    missing = [name for name in EVERY_PRODUCT_SERIES if name not in names]
    assert not missing, f"not exported: {missing}"

    # Records per stream: applied equals the rows written (a first sync inserts each once),
    # rejected equals the quarantine.
    for stream, rows in scrape.rows.items():
        labels = {"credential_id": good, "stream": stream}
        assert rows > 0
        assert value(samples, metrics.RECORDS, **labels, outcome="applied") == rows, stream
        assert value(samples, metrics.RECORDS, **labels, outcome="unchanged") == 0, stream
        rejected = value(samples, metrics.RECORDS, **labels, outcome="rejected")
        assert rejected == scrape.rejected.get(stream, 0), stream
    assert scrape.rejected == {"invoices": 2}
    assert not [
        s for s in samples if s.name == metrics.RECORDS and s.labels["credential_id"] != good
    ]

    # Pages: every page fetched once and applied; none fetched again.
    for stream, pages in scrape.pages.items():
        assert pages > 1, "the test needs several pages per stream"
        assert value(samples, metrics.PAGES_FETCHED, stream=stream) == pages, stream
    assert value(samples, metrics.PAGES_REFETCHED) == 0

    # Runs: two started by hand, one completed, one failed; both timed.
    assert value(samples, metrics.RUNS_STARTED, trigger="manual", data_type="both") == 2
    finished = {"trigger": "manual", "data_type": "both"}
    assert value(samples, metrics.RUNS_FINISHED, **finished, status="completed") == 1
    assert value(samples, metrics.RUNS_FINISHED, **finished, status="failed") == 1
    assert value(samples, metrics.RUN_DURATION + "_count") == 2
    assert value(samples, metrics.RUN_DURATION + "_sum") > 0

    # The API: one forced 429 on the invoices export, its Retry-After waited.
    invoices = "GET /accounting/v2/tenant/{tenant}/export/invoices"
    assert value(samples, metrics.API_THROTTLED, endpoint=invoices, credential_id=good) == 1
    assert value(samples, metrics.API_THROTTLED) == 1
    assert value(samples, metrics.API_RETRY_AFTER + "_sum", endpoint=invoices) == 1
    requests = [s for s in samples if s.name == metrics.API_REQUEST_DURATION + "_count"]
    assert {s.labels["endpoint"] for s in requests} >= {
        invoices,
        "GET /crm/v2/tenant/{tenant}/export/customers",
        "GET /crm/v2/tenant/{tenant}/export/customers/contacts",
    }
    assert not [s for s in requests if str(GOOD) in s.labels["endpoint"]], "raw URLs as labels"
    fetched = sum(scrape.pages.values())
    ok = value(samples, metrics.API_REQUEST_DURATION + "_count", status_class="2xx")
    assert ok >= fetched
    assert value(samples, metrics.API_REQUEST_DURATION + "_count", status_class="4xx") == 1
    assert value(samples, metrics.API_AUTH_REQUESTS, outcome="issued") >= 1
    assert value(samples, metrics.API_AUTH_REQUESTS, outcome="CredentialsRejected") >= 1

    # Fleet gauges, from the tables.
    for stream, age in scrape.data_age.items():
        exported_age = value(samples, metrics.DATA_AGE, credential_id=good, stream=stream)
        assert abs(exported_age - age) < 60, stream
        success = value(samples, metrics.SUCCESS_AGE, credential_id=good, stream=stream)
        assert 0 <= success < 120, stream
    bad_ages = [
        s
        for s in samples
        if s.name == metrics.SUCCESS_AGE and s.labels.get("credential_id") == str(scrape.bad)
    ]
    assert not bad_ages, "a credential that never completed has no success age"
    assert value(samples, metrics.OUTBOX_PENDING) == scrape.outbox_pending == 1
    assert value(samples, metrics.OUTBOX_OLDEST_AGE) >= 0
    assert value(samples, metrics.STAGED_WAITING) == 0  # finish_run removed them
    assert value(samples, metrics.WORKER_RSS) > 10_000_000

    # The monitoring files ask only for what this scrape has (same sync: one slow set-up).
    metrics_seen = exported(samples)
    assert "temporal_activity_schedule_to_start_latency_bucket" in metrics_seen
    queries = dashboard_queries()
    assert len(queries) >= 20
    assert not unknown_names(queries, metrics_seen)
    rules = alert_expressions()
    assert not unknown_names(rules, metrics_seen)


async def _export_alert_gauges(
    endpoint: MetricsEndpoint, database: Database, client: Client, settings: Settings
) -> None:
    """Run the worker's alert gauge loop (runtime/alerting.py) until its first values are out."""
    task = asyncio.create_task(export_gauges(endpoint.runtime, database, client, settings))
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                if METRIC_STALE in (await http.get(endpoint.url, timeout=10)).text:
                    return
                await asyncio.sleep(0.1)
        raise AssertionError("the alert gauges never appeared")
    finally:
        task.cancel()
