"""``python worker.py`` with METRICS_ADDRESS, as the compose stack runs it: after a sandbox
sync its endpoint serves the product metrics next to the SDK's (``run_worker`` installs them
on its runtime, points the ServiceTitan client at them and starts the fleet collector), with
the seconds buckets of ``core.metrics``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from contracts.sync import SyncInput
from core import metrics
from core.crypto import KeyRing, SecretBox
from db import credentials
from db.database import Database
from sandbox.config import TenantSpec
from tests.deploy.conftest import free_port
from tests.observability.promql import parse_scrape, value
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment
from workflows.sync import SyncWorkflow, workflow_id_for

TENANT = 4201


async def test_a_worker_process_serves_the_product_metrics(
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    sandbox = SandboxServer(
        tenants=f"{TENANT}:60:90", workdir=tmp_path, export_page_size=40
    ).start()
    worker = WorkerProcess(
        worker_environment(
            database_url=database_url,
            temporal_address=temporal_client.service_client.config.target_host,
            task_queue=queue,
            sandbox_url=sandbox.url,
            encryption_keys=encryption_keys,
            data_dir=tmp_path / "data",
            METRICS_ADDRESS=f"127.0.0.1:{port}",
        ),
        tmp_path,
    )
    spec = TenantSpec.make(TENANT, 60, 90)
    async with database.transaction() as connection:
        company = await credentials.add_company(
            connection, name="Metrics Co", intacct_id="METRICS", primary_trade="HVAC", actor="t"
        )
        credential = await credentials.add_credential(
            connection,
            SecretBox(KeyRing.parse(encryption_keys)),
            company_id=company,
            tenant_id=str(TENANT),
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            environment="production",
            actor="t",
        )
    with running(sandbox, worker):
        worker.start()
        result = await temporal_client.execute_workflow(
            SyncWorkflow.run,
            SyncInput(credential_id=credential),
            id=workflow_id_for(credential),
            task_queue=queue,
            execution_timeout=timedelta(minutes=2),
        )
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)).text
        assert worker.interrupt(timeout=60) == 0
    assert result.status == "completed"

    samples = parse_scrape(text)
    labels = {"credential_id": str(credential), "stream": "invoices", "outcome": "applied"}
    assert value(samples, metrics.RECORDS, **labels) == 90
    assert value(samples, metrics.RUNS_FINISHED, status="completed") == 1
    assert value(samples, metrics.API_AUTH_REQUESTS, outcome="issued") >= 1
    # The client reports to the worker's metrics: request latency, in the seconds buckets.
    buckets = {
        float(s.labels["le"]) for s in samples if s.name == metrics.API_REQUEST_DURATION + "_bucket"
    }
    expected = metrics.HISTOGRAM_BUCKETS[metrics.API_REQUEST_DURATION]
    assert buckets == {float(b) for b in expected} | {float("inf")}
    # The collector ran (at start-up: fleet gauges and the worker's own resources).
    for name in (metrics.OUTBOX_PENDING, metrics.STAGED_WAITING, metrics.WORKER_RSS):
        assert any(s.name == name for s in samples), name
    assert value(samples, metrics.WORKER_RSS) > 10_000_000
    assert "temporal_worker_task_slots_available" in {s.name for s in samples}
