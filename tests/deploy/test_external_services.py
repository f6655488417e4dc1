"""The non-embedded path, end to end: ``python worker.py`` against a Temporal server and a
PostgreSQL that it did not start, configured only through TEMPORAL_ADDRESS and DATABASE_URL.

This is what every production deployment (docker-compose, a cluster, Temporal Cloud) relies on:
the worker must not start embedded services, must refuse a database an operator has not
migrated (naming the command that fixes it), must register its search attributes on a server
that lacks them, and must then sync a tenant exactly, serving metrics for Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from contracts.search_attributes import ALL_KEYS
from contracts.sync import SyncInput
from core.config_reference import environment_variables
from db.database import Database
from runtime.health import heartbeat_path
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.deploy.conftest import free_port
from tests.reliability.support import add_credential
from tests.support.processes import (
    ROOT,
    SandboxServer,
    WorkerProcess,
    running,
    worker_environment,
)
from tests.sync.harness import expected_invoices, expected_members, stored_invoices, stored_members
from workflows.sync import SyncWorkflow, workflow_id_for

TENANT = 3101
CUSTOMERS, INVOICES, PAGE = 120, 260, 100

# Written by runtime/health.py once run_worker wraps its polling block in liveness_heartbeat.
HEARTBEAT_HOOKED = "liveness_heartbeat" in (ROOT / "runtime" / "worker.py").read_text()


def _no_embedded_services(data_dir: Path) -> None:
    for name in ("temporal", "postgres", "sandbox"):
        assert not (data_dir / name).exists(), f"the worker started an embedded {name}"


def _starter(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_refuses_an_unmigrated_database_until_db_upgrade(
    external_temporal: str, empty_database_url: str, encryption_keys: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = worker_environment(
        database_url=empty_database_url,
        temporal_address=external_temporal,
        task_queue=f"deploy-{uuid.uuid4().hex[:8]}",
        sandbox_url="http://127.0.0.1:9",
        encryption_keys=encryption_keys,
        data_dir=data_dir,
    )
    worker = WorkerProcess(env, tmp_path, name="refused")
    with pytest.raises(RuntimeError, match="exited with code 1"):
        worker.start(ready_timeout=60)
    logs = worker.logs()
    assert "python starter.py db upgrade" in logs
    assert "worker polling" not in logs
    _no_embedded_services(data_dir)

    # The operator's fix, through the same configuration.
    full_env = {**_base_env(), **env}
    upgrade = _starter("db", "upgrade", "--json", env=full_env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert json.loads(upgrade.stdout)["from"] is None
    current = _starter("db", "current", "--json", env=full_env)
    assert json.loads(current.stdout)["up_to_date"] is True
    _no_embedded_services(data_dir)


async def test_worker_syncs_a_tenant_through_external_temporal_and_postgres(
    external_temporal: str,
    database: Database,
    database_url: str,
    encryption_keys: str,
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    metrics_port = free_port()
    queue = f"deploy-{uuid.uuid4().hex[:8]}"
    sandbox = SandboxServer(
        tenants=f"{TENANT}:{CUSTOMERS}:{INVOICES}", workdir=tmp_path, export_page_size=PAGE
    ).start()
    worker = WorkerProcess(
        worker_environment(
            database_url=database_url,
            temporal_address=external_temporal,
            task_queue=queue,
            sandbox_url=sandbox.url,
            encryption_keys=encryption_keys,
            data_dir=data_dir,
            METRICS_ADDRESS=f"127.0.0.1:{metrics_port}",
        ),
        tmp_path,
    )
    spec = TenantSpec.make(TENANT, CUSTOMERS, INVOICES)
    _, credential = await add_credential(
        database, encryption_keys, spec, company="Deploy Co", intacct_id="DEPLOY"
    )

    with running(sandbox, worker):
        worker.start()
        client = await Client.connect(external_temporal)
        # Registered by the worker itself: the server was started without them.
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert {key.name for key in ALL_KEYS} <= set(listed.custom_attributes)

        handle = await client.start_workflow(
            SyncWorkflow.run,
            SyncInput(credential_id=credential),
            id=workflow_id_for(credential),
            task_queue=queue,
            execution_timeout=timedelta(minutes=2),
        )
        result = await handle.result()

        metrics = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{metrics_port}/metrics")
        if HEARTBEAT_HOOKED:
            assert heartbeat_path(data_dir).exists()
            health = await asyncio.to_thread(_healthcheck, data_dir)
            assert health.returncode == 0, health.stderr
        assert worker.interrupt(timeout=60) == 0

    assert result.status == "completed"
    truth = Sandbox(SandboxConfig(tenants=[spec], export_page_size=PAGE))
    assert stored_members(database_url, TENANT) == expected_members(truth, TENANT)
    assert stored_invoices(database_url, TENANT) == expected_invoices(truth, TENANT)
    with psycopg.connect(database_url) as connection:
        log = connection.execute("SELECT status FROM servicetitan_sync_logs").fetchall()
    assert log == [("completed",)]

    # The Prometheus endpoint the compose stack scrapes carries the SDK's worker metrics.
    assert "temporal_worker_task_slots_available" in metrics
    assert f'task_queue="{queue}"' in metrics
    _no_embedded_services(data_dir)
    assert not heartbeat_path(data_dir).exists(), "a stopped worker must not look healthy"


def _base_env() -> dict[str, str]:
    """The test process's environment without any product setting that could leak in."""
    names = environment_variables()
    return {key: value for key, value in os.environ.items() if key.upper() not in names}


def _scrape(url: str) -> str:
    return httpx.get(url, timeout=10).text


def _healthcheck(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The container's HEALTHCHECK command, run against this worker's DATA_DIR."""
    return subprocess.run(
        [sys.executable, "-m", "runtime.healthcheck"],
        cwd=ROOT,
        env={**_base_env(), "DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
