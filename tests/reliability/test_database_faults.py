"""Database faults during a sync: the worker's connections killed, PostgreSQL restarted cleanly,
and PostgreSQL crashed and restarted (which empties the UNLOGGED staged pages). The sync
completes with exactly the expected rows.

The restarts use the session's embedded PostgreSQL (pgserver) through its own ``pg_ctl``. When
the suite runs against a server it did not start (``DATABASE_URL``), it does not restart it:
those two faults become further rounds of killed connections, and the summary says so.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import uuid
from pathlib import Path

import psycopg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from contracts.sync import PAGES_IN_FLIGHT, ErrorType, SyncInput
from db.database import Database
from db.engine import with_database
from sandbox.config import TenantSpec
from tests.reliability.support import (
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

TENANT = 4101
CUSTOMERS, INVOICES, PAGE = 800, 2000, 50
KILL_CONNECTIONS, CLEAN_RESTART, CRASH_RESTART = "kill connections", "restart", "crash restart"
FAULTS = [KILL_CONNECTIONS] * 3 + [CLEAN_RESTART, CRASH_RESTART]


def _kill_connections(server_url: str, database: str) -> int:
    """pg_terminate_backend every connection to ``database`` (the worker's); returns how many."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


def _restart(server_url: str, mode: str) -> None:
    """Restart the embedded PostgreSQL: ``fast`` (clean) or ``immediate`` (a crash).

    pgserver remembers the postmaster's pid to stop it at the end of the session, so the
    handle is pointed at the new postmaster afterwards.
    """
    from pgserver import _commands
    from pgserver.postgres_server import PostgresServer, PostmasterInfo

    with psycopg.connect(server_url, autocommit=True) as connection:
        row = connection.execute("SHOW data_directory").fetchone()
    assert row is not None
    pgdata = Path(row[0])
    user = "pgserver" if os.geteuid() == 0 else None
    _commands.pg_ctl(
        ["-w", "-t", "60", "-m", mode, "-l", str(pgdata / "log"), "restart"],
        pgdata=pgdata,
        user=user,
        timeout=90,
    )
    for path, server in PostgresServer._instances.items():
        if Path(path).resolve() == pgdata.resolve():
            server._postmaster_info = PostmasterInfo.read_from_pgdata(pgdata)


_WAITING = "SELECT count(*) FROM servicetitan_staged_pages WHERE applied_at IS NULL"


async def _staged_page_waiting(database_url: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not scalar(database_url, _WAITING):
        if loop.time() > deadline:
            raise TimeoutError("no staged page waiting to be applied within 20 s")
        await asyncio.sleep(0.005)


async def _activity_retries(handle: WorkflowHandle) -> tuple[int, int]:
    """Activity attempts beyond the first, and staged pages found missing (history)."""
    history = await handle.fetch_history()
    retries = missing = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            retries += event.activity_task_started_event_attributes.attempt - 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failure = event.activity_task_failed_event_attributes.failure
            if failure.application_failure_info.type == ErrorType.STAGED_PAGE_MISSING:
                missing += 1
    return retries, missing


@pytest.mark.timeout(300)
async def test_sync_survives_killed_connections_and_postgres_restarts(
    database: Database,
    database_url: str,
    postgres_server_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    rng: random.Random,
    report: ReliabilityReport,
    secret_ledger: SecretLedger,
) -> None:
    watch = Stopwatch()
    owned = not os.environ.get("DATABASE_URL")
    faults = list(FAULTS) if owned else [KILL_CONNECTIONS] * len(FAULTS)
    rng.shuffle(faults)
    database_name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    assert with_database(postgres_server_url, database_name) == database_url
    sandbox = SandboxServer(
        tenants=f"{TENANT}:{CUSTOMERS}:{INVOICES}", workdir=tmp_path, export_page_size=PAGE
    )
    with running(sandbox):
        sandbox.start()
        sandbox.admin("POST", "faults", {"latency_seconds": 0.03})
        truth = RemoteTruth(sandbox)
        contacts = len(truth.expected_state(TENANT, "contacts"))
        records = CUSTOMERS + INVOICES + contacts
        pages = sum(math.ceil(n / PAGE) for n in (CUSTOMERS, INVOICES, contacts))
        points = sorted(rng.sample(range(3, pages - 3), len(faults)))
        plan = ", ".join(f"{fault}@{point}" for fault, point in zip(faults, points, strict=True))
        print(f"database fault plan (seed {report.seed}): {pages} pages; {plan}")
        _company, credential = await add_credential(
            database,
            encryption_keys,
            TenantSpec.make(TENANT, CUSTOMERS, INVOICES),
            company="Flaky DB Co",
            intacct_id="FLAKY",
        )
        worker = WorkerProcess(
            worker_environment(
                database_url=database_url,
                temporal_address=temporal_client.service_client.config.target_host,
                task_queue=f"db-faults-{uuid.uuid4().hex[:8]}",
                sandbox_url=sandbox.url,
                encryption_keys=encryption_keys,
                data_dir=tmp_path,
            ),
            tmp_path,
            name="db-fault-worker",
        )
        killed = 0
        lost_to_crash = 0  # staged pages waiting to be applied when PostgreSQL crashed
        with running(worker):
            await asyncio.to_thread(worker.start)
            handle = await temporal_client.start_workflow(
                SyncWorkflow.run,
                SyncInput(credential_id=credential),
                id=workflow_id_for(credential),
                task_queue=worker.env["TEMPORAL_TASK_QUEUE"],
            )
            for fault, point in zip(faults, points, strict=True):
                await wait_for_pages(database_url, point, deadline_seconds=120)
                await asyncio.sleep(rng.uniform(0.0, 0.2))
                if fault == KILL_CONNECTIONS:
                    killed += await asyncio.to_thread(
                        _kill_connections, postgres_server_url, database_name
                    )
                elif fault == CLEAN_RESTART:
                    await asyncio.to_thread(_restart, postgres_server_url, "fast")
                else:  # crash while a fetched page waits in the staging table
                    await _staged_page_waiting(database_url)
                    lost_to_crash += scalar(database_url, _WAITING)
                    await asyncio.to_thread(_restart, postgres_server_url, "immediate")
            result = await asyncio.wait_for(handle.result(), timeout=180)
            retries, missing = await _activity_retries(handle)
        for path in worker.log_paths:
            secret_ledger.add_file(path, f"log of {path.name}")
        counters = sandbox.admin("GET", "counters")
        tally = tally_tenant(database_url, truth, TENANT)

    duplicates = duplicate_rows(database_url)
    refetched = export_refetches(counters)
    extra = extra_fetches(refetched)
    restarts = sum(1 for f in faults if f != KILL_CONNECTIONS)
    injected = f"{faults.count(KILL_CONNECTIONS)}× killed connections ({killed} backends)"
    if restarts:
        injected += f", {restarts} restarts (1 crash)"
    report.add(
        Scenario(
            "database: killed connections + restarts",
            records=records,
            injected=injected,
            expected_rows=tally.expected,
            found_rows=tally.found,
            duplicates=duplicates,
            refetched=extra,
            seconds=watch.seconds,
            note=f"{pages} pages, {plan}; {retries} activity retries, "
            f"{missing} staged pages lost to the crash and fetched again"
            + ("" if owned else "; DATABASE_URL server not restarted (not ours)"),
        )
    )
    assert result.status == "completed"
    assert not tally.mismatched, tally.mismatched
    assert tally.found == tally.expected == records
    assert duplicates == 0
    assert killed > 0, "no connection of the worker was killed: the test proved nothing"
    # Idle pooled connections are replaced silently (pre-ping); the faults must have hit work.
    assert retries + missing > 0, "no activity failed: the faults missed the sync"
    # Whether the crash restart catches a staged page before it is applied is a race with the
    # apply that follows the fetch; the figure is reported above. The refetch path itself is
    # proven deterministically by tests/sync/test_sync_behaviour.py
    # (test_staged_pages_lost_in_a_database_crash_are_fetched_again).
    # A killed connection or clean restart costs at most the pages in flight; a crash restart
    # also loses the staged pages waiting to be applied (UNLOGGED: counted just before the
    # crash; invoices wait there for the customers while those are applied).
    allowed = PAGES_IN_FLIGHT * len(faults) + lost_to_crash
    assert extra <= allowed, refetched
    log = scalar(
        database_url,
        "SELECT array_agg(status || ':' || records_processed) FROM servicetitan_sync_logs",
    )
    assert log == [f"completed:{result.records_processed}"]
