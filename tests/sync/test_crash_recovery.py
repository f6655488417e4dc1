"""SIGKILL the worker mid-sync, start it again: the sync completes exactly, no page refetched
beyond the ones in flight (PAGES_IN_FLIGHT)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client

from contracts.sync import PAGES_IN_FLIGHT, SyncInput
from db.database import Database
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.reliability.support import add_credential
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment
from tests.sync.harness import (
    expected_invoices,
    expected_members,
    stored_invoices,
    stored_members,
)
from workflows.sync import SyncWorkflow, workflow_id_for

TENANT = 2001
CUSTOMERS, INVOICES, PAGE = 900, 2400, 100


async def _wait_until_applied(database_url: str, pages: int, deadline_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    while await _applied_pages(database_url) < pages:
        if loop.time() > deadline:
            raise TimeoutError(f"fewer than {pages} pages applied after {deadline_seconds}s")
        await asyncio.sleep(0.05)


async def _applied_pages(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute(
            "SELECT coalesce(sum(pages_applied), 0) FROM servicetitan_sync_state"
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.slow
async def test_sigkill_mid_sync_resumes_exactly(
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> None:
    sandbox = SandboxServer(
        tenants=f"{TENANT}:{CUSTOMERS}:{INVOICES}", workdir=tmp_path, export_page_size=PAGE
    ).start()
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        worker_environment(
            database_url=database_url,
            temporal_address=temporal_client.service_client.config.target_host,
            task_queue=queue,
            sandbox_url=sandbox.url,
            encryption_keys=encryption_keys,
            data_dir=tmp_path,
        ),
        tmp_path,
    )
    with running(sandbox, worker):
        sandbox.admin("POST", "faults", {"latency_seconds": 0.05})
        spec = TenantSpec.make(TENANT, CUSTOMERS, INVOICES)
        _, credential = await add_credential(
            database, encryption_keys, spec, company="Crash Co", intacct_id="CRASH"
        )
        worker.start()
        handle = await temporal_client.start_workflow(
            SyncWorkflow.run,
            SyncInput(credential_id=credential),
            id=workflow_id_for(credential),
            task_queue=queue,
        )
        kills = 0
        # About 9 customer, 14 contact and 24 invoice pages: one kill in each stream.
        for threshold in (5, 16, 32):
            await _wait_until_applied(database_url, threshold, deadline_seconds=120)
            worker.kill()
            kills += 1
            worker.start()
        result = await handle.result()
        pages = sandbox_pages(sandbox)

    assert result.status == "completed"
    truth = Sandbox(SandboxConfig(tenants=[spec], export_page_size=PAGE))
    assert stored_members(database_url, TENANT) == expected_members(truth, TENANT)
    assert stored_invoices(database_url, TENANT) == expected_invoices(truth, TENANT)
    with psycopg.connect(database_url) as connection:
        assert connection.execute("SELECT count(*) FROM invoices_stream").fetchone() == (INVOICES,)
        log = connection.execute(
            "SELECT status, records_processed FROM servicetitan_sync_logs"
        ).fetchall()
    assert log == [("completed", result.records_processed)]

    refetched = {key: count for key, count in pages.items() if count > 1}
    # At most the pages in flight are fetched again per crash. A page can be in flight at
    # more than one crash (the stream resumes there, and the next kill comes before it is
    # staged): then it is fetched once more per such crash, never more.
    extra_fetches = sum(count - 1 for count in refetched.values())
    assert extra_fetches <= PAGES_IN_FLIGHT * kills, refetched
    assert all(count <= kills + 1 for count in refetched.values()), refetched
    assert worker.starts == kills + 1


def sandbox_pages(sandbox: SandboxServer) -> dict[tuple[str, str], int]:
    snapshot = sandbox.admin("GET", "counters")
    return {(page["endpoint"], page["cursor"]): page["served"] for page in snapshot["pages"]}
