"""Crashes: the worker process is SIGKILLed at random points of one large sync, several times
in a row, and once stopped gracefully (SIGTERM) while a page is in flight. The sync completes
with exactly the expected rows, no duplicates, at most the export pages in flight fetched
again per SIGKILL (PAGES_IN_FLIGHT), and the page in flight at the SIGTERM is finished, not
fetched again.

Kill points are drawn from the session seed (printed in the summary; RELIABILITY_SEED replays
a run). Each SIGKILL costs the 15 s heartbeat timeout before the in-flight activities are
retried, which is what sizes the number of kills.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.sync import PAGES_IN_FLIGHT, SyncInput
from db.database import Database
from sandbox.config import TenantSpec
from tests.reliability.support import (
    EXPORT_ENDPOINTS,
    ReliabilityReport,
    RemoteTruth,
    Scenario,
    SecretLedger,
    Stopwatch,
    add_credential,
    duplicate_rows,
    export_refetches,
    extra_fetches,
    scalar,
    tally_tenant,
    wait_for_pages,
)
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment
from workflows.sync import SyncWorkflow, workflow_id_for

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TENANT = 4001
CUSTOMERS, INVOICES, PAGE = 1500, 4000, 100
SIGKILLS, SIGTERMS = 4, 1
LATENCY = 0.05
SLOW_PAGE = 1.5  # the sandbox's latency while the graceful stop happens: the page is in flight


def _export_pages(sandbox: SandboxServer) -> dict[tuple[int, str, str], tuple[int, int]]:
    """Export cursor → (requests, complete responses) so far."""
    return {
        (p["tenant_id"], p["endpoint"], p["cursor"]): (p["requested"], p["served"])
        for p in sandbox.admin("GET", "counters")["pages"]
        if p["endpoint"] in EXPORT_ENDPOINTS
    }


async def _graceful_stop_mid_page(
    sandbox: SandboxServer, worker: WorkerProcess
) -> tuple[tuple[int, str, str], int, int, float]:
    """SIGTERM while a new export request is in flight (the sandbox holds it SLOW_PAGE seconds).

    Returns the cursor in flight, how often it had been served before, the exit code, and how
    long the graceful stop took.
    """
    sandbox.admin("POST", "faults", {"latency_seconds": SLOW_PAGE})
    before = _export_pages(sandbox)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        now = _export_pages(sandbox)
        flight = [
            key
            for key, (requested, served) in now.items()
            if requested > before.get(key, (0, 0))[0] and served == before.get(key, (0, 0))[1]
        ]
        if flight:
            break
        if loop.time() > deadline:
            raise TimeoutError("no export request in flight within 60 s")
        await asyncio.sleep(0.02)
    started = loop.time()
    code = await asyncio.to_thread(worker.interrupt, 60.0)
    stopped_after = loop.time() - started
    sandbox.admin("POST", "faults", {"latency_seconds": LATENCY})
    cursor = flight[0]
    return cursor, now[cursor][1], code, stopped_after


@pytest.mark.timeout(420)
async def test_random_sigkills_and_a_graceful_stop_mid_page_resume_exactly(
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    rng: random.Random,
    report: ReliabilityReport,
    secret_ledger: SecretLedger,
) -> None:
    watch = Stopwatch()
    sandbox = SandboxServer(
        tenants=f"{TENANT}:{CUSTOMERS}:{INVOICES}", workdir=tmp_path, export_page_size=PAGE
    )
    with running(sandbox):
        sandbox.start()
        sandbox.admin("POST", "faults", {"latency_seconds": LATENCY})
        worker = WorkerProcess(
            worker_environment(
                database_url=database_url,
                temporal_address=temporal_client.service_client.config.target_host,
                task_queue=f"crashes-{uuid.uuid4().hex[:8]}",
                sandbox_url=sandbox.url,
                encryption_keys=encryption_keys,
                data_dir=tmp_path,
            ),
            tmp_path,
            name="crash-worker",
        )
        truth = RemoteTruth(sandbox)
        contacts = len(truth.expected_state(TENANT, "contacts"))
        records = CUSTOMERS + INVOICES + contacts
        pages = sum(math.ceil(n / PAGE) for n in (CUSTOMERS, INVOICES, contacts))
        points = sorted(rng.sample(range(3, pages - 4), SIGKILLS + SIGTERMS))
        graceful = set(rng.sample(points, SIGTERMS))
        plan = ", ".join(f"{'SIGTERM' if p in graceful else 'SIGKILL'}@{p}" for p in points)
        print(f"crash plan (seed {report.seed}): {pages} pages; {plan}")
        _company, credential = await add_credential(
            database,
            encryption_keys,
            TenantSpec.make(TENANT, CUSTOMERS, INVOICES),
            company="Crash Co",
            intacct_id="CRASH",
        )
        with running(worker):
            await asyncio.to_thread(worker.start)
            handle = await temporal_client.start_workflow(
                SyncWorkflow.run,
                SyncInput(credential_id=credential),
                id=workflow_id_for(credential),
                task_queue=worker.env["TEMPORAL_TASK_QUEUE"],
            )
            graceful_pages: list[tuple[tuple[int, str, str], int]] = []
            for point in points:
                await wait_for_pages(database_url, point, deadline_seconds=120)
                if point in graceful:
                    cursor, served, code, seconds = await _graceful_stop_mid_page(sandbox, worker)
                    assert code == 0, f"graceful stop exited with {code}"
                    assert seconds < 30, f"graceful stop took {seconds:.1f}s"
                    graceful_pages.append((cursor, served))
                else:
                    await asyncio.sleep(rng.uniform(0.0, 0.4))  # anywhere in the page cycle
                    worker.kill()
                await asyncio.to_thread(worker.start)
            result = await asyncio.wait_for(handle.result(), timeout=240)
        for path in worker.log_paths:
            secret_ledger.add_file(path, f"log of {path.name}")
        counters = sandbox.admin("GET", "counters")
        tally = tally_tenant(database_url, truth, TENANT)

    duplicates = duplicate_rows(database_url)
    refetched = export_refetches(counters)
    extra = extra_fetches(refetched)
    report.add(
        Scenario(
            "crash: random SIGKILLs + SIGTERM mid-page",
            records=records,
            injected=f"{SIGKILLS} SIGKILL, {SIGTERMS} SIGTERM",
            expected_rows=tally.expected,
            found_rows=tally.found,
            duplicates=duplicates,
            refetched=extra,
            seconds=watch.seconds,
            note=f"{pages} pages, {plan}; the SIGTERM's in-flight page was finished",
        )
    )
    assert result.status == "completed"
    assert not tally.mismatched, tally.mismatched
    assert tally.found == tally.expected == records
    assert duplicates == 0
    # At most the pages in flight are fetched again per crash; none for the graceful stop. A
    # page in flight at two crashes (the next kill came before the stream got past it) is
    # fetched once more per such crash.
    assert extra <= PAGES_IN_FLIGHT * SIGKILLS, refetched
    assert all(count <= SIGKILLS + 1 for count in refetched.values()), refetched
    # The page in flight at SIGTERM was answered once more (the request the stop let finish)
    # and never asked for again by the restarted worker.
    served_at_end = {
        (p["tenant_id"], p["endpoint"], p["cursor"]): p["served"] for p in counters["pages"]
    }
    for cursor, served in graceful_pages:
        assert served_at_end[cursor] == served + 1, (cursor, served, served_at_end[cursor])
    log = scalar(
        database_url,
        "SELECT array_agg(status || ':' || records_processed) FROM servicetitan_sync_logs",
    )
    assert log == [f"completed:{result.records_processed}"]
    assert worker.starts == SIGKILLS + SIGTERMS + 1
