"""Concurrency and load: 20 credentials (20 companies over 4 ServiceTitan tenants) syncing at
once on one worker process, then (after the tenants changed) on two, then on four worker
processes sharing the task queue.

Every company's rows are exactly its tenant's data; each sync has exactly one sync-log row
and no credential ever has two running; Temporal refuses a second start of a running sync;
and every tenant's request rate, measured from the sandbox's counters, stays under the
sandbox's limit with no 429 served.

Every worker gets the full per-tenant budget (WORKER_LIMIT): the budget is shared between
processes through PostgreSQL (db/rate_limits.py), so two or four workers together send no
more to a tenant than one does. (With a limiter per process, four workers could send four
times the budget to one tenant; ServiceTitan would answer 429s, which the sync survives but
which this test counts.) The limits are scaled to what this machine can load one tenant with;
see SANDBOX_LIMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from contracts.sync import Mode, SyncInput, SyncResult
from db.database import Database
from sandbox.config import TenantSpec
from tests.reliability.support import (
    EXPORT_ENDPOINTS,
    ReliabilityReport,
    RemoteTruth,
    Scenario,
    SecretLedger,
    Stopwatch,
    Tally,
    add_credential,
    duplicate_rows,
    expected_contacts,
    scalar,
)
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment
from tests.sync.harness import INVOICE_SQL, MEMBER_SQL, expected_invoices, expected_members
from workflows.sync import SyncWorkflow, workflow_id_for

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TENANTS = (4401, 4402, 4403, 4404)
CREDENTIALS_PER_TENANT = 5
CUSTOMERS, INVOICES, PAGE = 60, 100, 30
# ServiceTitan allows 60/s and the product defaults to 50/s, but this 2-core machine cannot
# push 60/s at one tenant (unthrottled, five credentials of a tenant peak at 12-14 req/s
# here). The limits are scaled down so that they bind: with the client's limiter off, the
# measured peak (13.5/s) is over SANDBOX_LIMIT and the rate assertion fails; with a limiter
# per process instead of the shared one, two and four workers peak at 13-15/s with 429s.
SANDBOX_LIMIT = 8.0
# The client lets rate + burst (1 here) through in any second, per tenant, whatever the
# number of workers; each worker is configured with this whole budget.
WORKER_LIMIT = 6.0
WORKER_COUNTS = (1, 2, 4)


class Sampler:
    """Samples the sandbox's per-tenant request counts and the running syncs per credential."""

    def __init__(self, sandbox: SandboxServer, database_url: str) -> None:
        self._sandbox = sandbox
        self._database_url = database_url
        self.samples: list[tuple[float, Counter[int]]] = []
        self.most_running = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            snapshot = await asyncio.to_thread(self._sandbox.admin, "GET", "counters")
            counts: Counter[int] = Counter()
            for entry in snapshot["requests_by_tenant"]:
                counts[entry["tenant_id"]] += entry["count"]
            # The server's clock at the moment it counted: under load a snapshot can take a
            # good part of a second to arrive, and timing it on arrival shrank the window
            # between two snapshots (a paced 6/s once read as 9.3/s).
            self.samples.append((float(snapshot["taken_at"]), counts))
            self.most_running = max(self.most_running, await asyncio.to_thread(self._running))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)

    def _running(self) -> int:
        with psycopg.connect(self._database_url) as connection:
            row = connection.execute(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM "
                "servicetitan_sync_logs WHERE status = 'running' GROUP BY credential_id) r"
            ).fetchone()
        return int(row[0]) if row else 0

    def stop(self) -> None:
        self._stop.set()

    def peak_rates(self) -> dict[int, float]:
        """Per tenant, the highest request rate over any window of at least one second."""
        peaks: dict[int, float] = {}
        for i, (t_end, end) in enumerate(self.samples):
            for t_start, start in reversed(self.samples[:i]):
                if t_end - t_start >= 1.0:
                    for tenant in end:
                        rate = (end[tenant] - start[tenant]) / (t_end - t_start)
                        peaks[tenant] = max(peaks.get(tenant, 0.0), rate)
                    break
        return peaks


def _stored(database_url: str, sql: str, tenant: int, company: int) -> dict[Any, tuple[Any, ...]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(f"{sql} AND company_id = %s", (str(tenant), company))
        return {row[0]: tuple(row) for row in rows}


def _tally(database_url: str, truth: Any, owners: dict[int, int]) -> Tally:
    """Compare every company's rows with its tenant's truth."""
    tally = Tally()
    expected = {
        tenant: (
            expected_members(truth, tenant),
            expected_invoices(truth, tenant),
            expected_contacts(truth, tenant),
        )
        for tenant in set(owners.values())
    }
    contact_sql = (
        "SELECT contact_id, customer_id, type, value, active, source_modified_at "
        "FROM servicetitan_customer_contacts WHERE source_tenant_id = %s"
    )
    for company, tenant in owners.items():
        members, invoices, contacts = expected[tenant]
        tally.add(f"members {company}", members, _stored(database_url, MEMBER_SQL, tenant, company))
        tally.add(
            f"invoices {company}", invoices, _stored(database_url, INVOICE_SQL, tenant, company)
        )
        tally.add(
            f"contacts {company}", contacts, _stored(database_url, contact_sql, tenant, company)
        )
    return tally


async def _start_all(
    client: Client, credentials: list[int], queue: str, modes: dict[int, Mode]
) -> tuple[list[WorkflowHandle[Any, SyncResult]], int]:
    """Start every credential's sync at once; a second start of each must be refused."""

    async def start(credential: int) -> tuple[WorkflowHandle[Any, SyncResult], bool]:
        arguments = SyncInput(credential_id=credential, mode=modes.get(credential, "incremental"))
        handle = await client.start_workflow(
            SyncWorkflow.run, arguments, id=workflow_id_for(credential), task_queue=queue
        )
        try:
            await client.start_workflow(
                SyncWorkflow.run, arguments, id=workflow_id_for(credential), task_queue=queue
            )
        except WorkflowAlreadyStartedError:
            return handle, True
        return handle, False

    started = await asyncio.gather(*(start(c) for c in credentials))
    return [h for h, _ in started], sum(1 for _, refused in started if refused)


async def _identities(handles: list[WorkflowHandle[Any, SyncResult]]) -> Counter[str]:
    """Which worker processes ran the activities."""
    identities: Counter[str] = Counter()
    for handle in handles:
        history = await handle.fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identities[event.activity_task_started_event_attributes.identity] += 1
    return identities


async def _phase(
    name: str,
    *,
    sandbox: SandboxServer,
    workers: list[WorkerProcess],
    client: Client,
    database_url: str,
    credentials: list[int],
    owners: dict[int, int],
    modes: dict[int, Mode],
    report: ReliabilityReport,
) -> None:
    watch = Stopwatch()
    sandbox.admin("POST", "counters/reset")
    truth = RemoteTruth(sandbox)
    sampler = Sampler(sandbox, database_url)
    sampling = asyncio.create_task(sampler.run())
    try:
        handles, refused = await _start_all(
            client, credentials, workers[0].env["TEMPORAL_TASK_QUEUE"], modes
        )
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 240)
    finally:
        sampler.stop()
        await sampling
    counters = sandbox.admin("GET", "counters")
    tally = _tally(database_url, truth, owners)
    peaks = sampler.peak_rates()
    identities = await _identities(handles)
    records = sum(
        entry["count"]
        for entry in counters["records_served"]
        if entry["endpoint"] in EXPORT_ENDPOINTS
    )
    # Credentials of one tenant fetch the same cursors, so count pages, not cursors: every
    # export page served was applied by exactly one sync.
    served = sum(p["served"] for p in counters["pages"] if p["endpoint"] in EXPORT_ENDPOINTS)
    applied = sum(stream.pages for result in results for stream in result.streams)
    report.add(
        Scenario(
            name,
            records=records,
            injected=f"{len(credentials)} syncs at once, {len(workers)} worker(s)",
            expected_rows=tally.expected,
            found_rows=tally.found,
            duplicates=duplicate_rows(database_url),
            refetched=served - applied,
            seconds=watch.seconds,
            note=f"peak {max(peaks.values()):.1f} req/s per tenant (limit {WORKER_LIMIT:g}/s "
            f"shared, sandbox {SANDBOX_LIMIT:g}/s), {counters['rate_limited']}×429, "
            f"{len(identities)} worker identities",
        )
    )
    assert all(r.status == "completed" for r in results)
    assert refused == len(credentials), "a second start of a running sync was not refused"
    assert not tally.mismatched, tally.mismatched
    assert tally.found == tally.expected
    assert sampler.most_running == 1, "a credential had two running syncs"
    assert counters["rate_limited"] == 0, counters["rate_limited_by_tenant"]
    assert max(peaks.values()) <= SANDBOX_LIMIT, peaks
    assert served == applied, (served, applied)
    assert len(identities) == len(workers), identities


@pytest.mark.timeout(420)
async def test_twenty_credentials_on_one_then_two_then_four_workers(
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    rng: random.Random,
    report: ReliabilityReport,
    secret_ledger: SecretLedger,
) -> None:
    tenants = ",".join(f"{t}:{CUSTOMERS}:{INVOICES}" for t in TENANTS)
    sandbox = SandboxServer(
        tenants=tenants, workdir=tmp_path, export_page_size=PAGE, rate_limit=SANDBOX_LIMIT
    )
    owners: dict[int, int] = {}
    credentials: list[int] = []
    queue = f"load-{uuid.uuid4().hex[:8]}"
    with running(sandbox):
        sandbox.start()
        for n in range(len(TENANTS) * CREDENTIALS_PER_TENANT):
            tenant = TENANTS[n % len(TENANTS)]
            company, credential = await add_credential(
                database,
                encryption_keys,
                TenantSpec.make(tenant, CUSTOMERS, INVOICES),
                company=f"Load Co {n}",
                intacct_id=f"LOAD{n}",
            )
            owners[company] = tenant
            credentials.append(credential)

        def worker(name: str) -> WorkerProcess:
            return WorkerProcess(
                worker_environment(
                    database_url=database_url,
                    temporal_address=temporal_client.service_client.config.target_host,
                    task_queue=queue,
                    sandbox_url=sandbox.url,
                    encryption_keys=encryption_keys,
                    data_dir=tmp_path,
                    SERVICETITAN_RATE_LIMIT_PER_SECOND=str(WORKER_LIMIT),
                ),
                tmp_path,
                name=name,
            )

        # Workers join between phases: 1, then 2, then 4 poll the queue.
        pool = [worker(f"load-worker-{n}") for n in range(max(WORKER_COUNTS))]
        with running(*pool):
            modes: dict[int, Mode] = {}
            polling = 0
            for count in WORKER_COUNTS:
                joining, polling = pool[polling:count], count
                await asyncio.gather(*(asyncio.to_thread(w.start) for w in joining))
                if count > 1:
                    # The tenants change; half the credentials resync in full, half
                    # incrementally.
                    for tenant in TENANTS:
                        sandbox.admin(
                            "POST",
                            "mutate",
                            {"tenant_id": tenant, "modify": 6, "add": 4, "contacts": 5},
                        )
                    full = set(rng.sample(credentials, len(credentials) // 2))
                    modes = {c: ("full" if c in full else "incremental") for c in credentials}
                await _phase(
                    f"load: 20 credentials, {count} worker(s)",
                    sandbox=sandbox,
                    workers=pool[:count],
                    client=temporal_client,
                    database_url=database_url,
                    credentials=credentials,
                    owners=owners,
                    modes=modes,
                    report=report,
                )
        for process in pool:
            for path in process.log_paths:
                secret_ledger.add_file(path, f"log of {path.name}")

    logs = scalar(
        database_url,
        "SELECT array_agg(DISTINCT n) FROM (SELECT count(*) FILTER (WHERE status = 'completed') "
        "AS n FROM servicetitan_sync_logs GROUP BY credential_id) c",
    )
    phases = len(WORKER_COUNTS)
    assert logs == [phases], "every credential has exactly one completed sync-log row a phase"
    assert scalar(database_url, "SELECT count(*) FROM servicetitan_sync_logs") == phases * len(
        credentials
    )
