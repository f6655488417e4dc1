"""A fleet of small tenants syncing incrementally at once, as their schedules start them.

``plan.fleet_size`` sandbox tenants (500 in the full run) of a few dozen records each, one
credential each (onboarded through ``db.credentials``, secrets encrypted), one worker process
with the product's defaults. Each tenant is first synced in full (all started at once), then
every tenant gets a few changes, then every credential's incremental sync is started the way
its Temporal Schedule starts it: ``ScheduledSyncWorkflow`` (the launcher, which runs the sync
as a child under the credential's one workflow id) with the action of
``runtime.schedules``'s schedule — same input, workflow id (plus the firing time, as
Temporal appends it), task queue and search attributes (trigger ``scheduled``). All are due
at once, like schedules without jitter firing in the same minute; nothing bounds how many
start together, because nothing bounds the schedules either.

Measured over that wave: sustained syncs per minute (completed over the wall time from the
first start request to the last result), each sync's latency (its start request to the
launcher's result, which follows the child sync's), CPU seconds per sync by process, and the
Temporal actions per scheduled sync (``bench/actions.py``: the launcher's and the sync's
histories, the server's heartbeat and query count over the wave, and the two actions Temporal
Cloud bills per Schedule execution). Every synced table is then checked row by row.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import psycopg
from temporalio.client import Client, ScheduleActionStartWorkflow

from bench import server_actions
from bench.actions import SCHEDULE_ACTIONS, count_history, retry_causes
from bench.context import BenchContext, Row
from bench.history import run_histories
from bench.measure import check_rows
from bench.plan import Tenant
from bench.sandbox import reset_counters, served
from bench.syncs import onboard, sync_all
from bench.verify import BenchFailure
from contracts.sync import LaunchResult
from core.settings import load_settings
from runtime.schedules import _build as build_schedule  # the Schedule itself, unsent
from workflows.sync import workflow_id_for

TARGET_PER_MINUTE = 300
"""Issue 22: at least 300 incremental syncs a minute on one worker."""
PARALLEL_CALLS = 24
"""Sandbox and database calls at a time around the wave (not measured): each call to the
sandbox waits ~40 ms on the loopback whatever its size, so 500 tenants one by one would add
minutes. Below PostgreSQL's 100 connections with the worker's pool of 32."""

T = TypeVar("T")


@dataclass(frozen=True)
class Launched:
    credential_id: int
    workflow_id: str
    started: float
    finished: float
    result: LaunchResult

    @property
    def seconds(self) -> float:
        return self.finished - self.started


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def _bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def _companies(database_url: str) -> dict[int, int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT id, company_id FROM servicetitan_credentials").fetchall()
    return {int(row[0]): int(row[1]) for row in rows}


def _schedule_actions(
    ctx: BenchContext, task_queue: str, credentials: dict[int, int], database_url: str
) -> dict[int, ScheduleActionStartWorkflow]:
    """Per credential, the action its schedule would run (``runtime.schedules``)."""
    settings = load_settings(
        temporal_task_queue=task_queue,
        temporal_address=ctx.temporal.address,
        database_url=database_url,
        credential_encryption_keys=ctx.keys,
    )
    companies = _companies(database_url)
    actions: dict[int, ScheduleActionStartWorkflow] = {}
    for tenant_id, credential_id in credentials.items():
        schedule = build_schedule(
            settings,
            credential_id,
            every=timedelta(hours=1),
            cron=None,
            data_type="both",
            jitter=None,
            company_id=companies[credential_id],
            tenant_id=str(tenant_id),
        )
        assert isinstance(schedule.action, ScheduleActionStartWorkflow)
        actions[credential_id] = schedule.action
    return actions


async def _fire(
    client: Client,
    credential_id: int,
    action: ScheduleActionStartWorkflow,
    fired: str,
    limit_seconds: float,
) -> Launched:
    """Start the launcher as the schedule would and wait for its result; raises
    ``BenchFailure`` unless the sync it launched completed."""
    workflow_id = f"{action.id}-{fired}"  # Temporal appends the scheduled time
    started = time.perf_counter()
    handle = await client.start_workflow(
        action.workflow,
        args=action.args,
        id=workflow_id,
        task_queue=action.task_queue or "",
        execution_timeout=action.execution_timeout,
        run_timeout=action.run_timeout,
        task_timeout=action.task_timeout,
        retry_policy=action.retry_policy,
        memo=action.memo,
        search_attributes=action.typed_search_attributes,
        result_type=LaunchResult,
    )
    try:
        result = await asyncio.wait_for(handle.result(), limit_seconds)
    except Exception as error:
        raise BenchFailure(f"scheduled sync {workflow_id} did not complete: {error}") from None
    if not (result.started and result.detail.startswith("completed")):
        raise BenchFailure(f"scheduled sync {workflow_id}: {result.detail}")
    return Launched(credential_id, workflow_id, started, time.perf_counter(), result)


async def _check_all(ctx: BenchContext, url: str, tenants: Sequence[Tenant]) -> None:
    """Every row of every tenant against the sandbox's ground truth, ``PARALLEL_CALLS``
    tenants at a time (threads: the checks are blocking calls)."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(PARALLEL_CALLS, thread_name_prefix="fleet-check") as pool:
        await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, check_rows, ctx, url, tenant, f"fleet tenant {tenant.tenant_id}"
                )
                for tenant in tenants
            )
        )


async def _mutate(ctx: BenchContext, tenants: Sequence[Tenant]) -> int:
    """Modify ``fleet_changes`` customers and invoices of every tenant and change as many
    contacts (the sandbox's admin API, as the incremental scenario does); returns the number
    of changes."""
    changes = ctx.plan.fleet_changes
    async with httpx.AsyncClient(base_url=ctx.sandbox.url, timeout=60) as http:

        def mutator(tenant: Tenant) -> Callable[[], Awaitable[None]]:
            async def mutate() -> None:
                body = {
                    "tenant_id": tenant.tenant_id,
                    "modify": changes,
                    "contacts": changes,
                    "kinds": ["customers", "invoices"],
                }
                response = await http.post("/_sandbox/mutate", json=body)
                response.raise_for_status()

            return mutate

        await _bounded([mutator(tenant) for tenant in tenants], PARALLEL_CALLS)
    return changes * 3 * len(tenants)


async def _read_histories(
    client: Client, launched: Sequence[Launched]
) -> tuple[Counter[str], Counter[str]]:
    """Billable actions in the launchers' and their syncs' histories, summed, and the causes
    of the activity retries among them."""

    def reader(workflow_id: str) -> Callable[[], Awaitable[tuple[Counter[str], Counter[str]]]]:
        async def read() -> tuple[Counter[str], Counter[str]]:
            runs = await run_histories(client, workflow_id)
            return count_history(runs), retry_causes(runs)

        return read

    ids = [run.workflow_id for run in launched]
    ids += [workflow_id_for(run.credential_id) for run in launched]
    actions: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    for counted, retried in await _bounded([reader(i) for i in ids], PARALLEL_CALLS):
        actions.update(counted)
        causes.update(retried)
    return actions, causes


class _Phases:
    """Wall seconds of each step of the scenario, for the JSON file."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> float:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now
        return self.seconds[name]


@dataclass
class _Fleet:
    """What the scenario measured."""

    count: int
    onboard_seconds: float
    full_seconds: float
    full_records: int
    changes: int
    launched: list[Launched]
    cpu: dict[str, float]
    server: server_actions.ServerActions
    health: dict[str, Any]
    pages: int
    history: Counter[str] = field(default_factory=Counter)
    retry_causes: Counter[str] = field(default_factory=Counter)
    """Each retried activity's last failure, by kind (``bench.actions.retry_causes``)."""
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        """From the first start request to the last result."""
        return max(r.finished for r in self.launched) - min(r.started for r in self.launched)

    @property
    def latencies(self) -> list[float]:
        return [run.seconds for run in self.launched]

    @property
    def actions(self) -> float:
        """Per scheduled sync: histories, heartbeats and queries, the Schedule's own."""
        measured = sum(self.history.values()) + self.server.heartbeats + self.server.queries
        return measured / self.count + SCHEDULE_ACTIONS


async def run(ctx: BenchContext) -> None:
    tenants = ctx.plan.fleet_tenants()
    client = ctx.temporal.client
    timeout = ctx.plan.sync_timeout_seconds
    phases = _Phases()
    worker = ctx.scenario_worker("fleet")
    url = worker.database_url
    phases.done("worker")
    try:
        credentials = await onboard(url, ctx.keys, tenants)
        onboard_seconds = phases.done("onboard")
        full_seconds, full_runs = await sync_all(
            client, list(credentials.values()), worker.task_queue, limit_seconds=timeout
        )
        phases.done("full_syncs")
        changes = await _mutate(ctx, tenants)
        actions = _schedule_actions(ctx, worker.task_queue, credentials, url)
        fired = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        reset_counters(ctx.sandbox)
        before = await server_actions.read(ctx.temporal.metrics_url)
        phases.done("changes")
        with ctx.cpu.measure(worker=worker.pid) as cpu:
            launched = await asyncio.gather(
                *(_fire(client, c, action, fired, timeout) for c, action in actions.items())
            )
        phases.done("incremental_syncs")
        after = await server_actions.read(ctx.temporal.metrics_url)
        fleet = _Fleet(
            count=len(tenants),
            onboard_seconds=onboard_seconds,
            full_seconds=full_seconds,
            full_records=sum(r.records for r in full_runs),
            changes=changes,
            launched=list(launched),
            cpu=cpu,
            server=server_actions.between(before, after),
            health=server_actions.queue_health(before, after),
            pages=served(ctx.sandbox, *(t.tenant_id for t in tenants)).pages,
        )
        await _check_all(ctx, url, tenants)
        phases.done("verify")
        fleet.history, fleet.retry_causes = await _read_histories(client, fleet.launched)
        phases.done("histories")
        fleet.phases = phases.seconds
    finally:
        ctx.release(worker)
    _report(ctx, fleet)


def _report(ctx: BenchContext, fleet: _Fleet) -> None:
    count = fleet.count
    wall = fleet.wall
    latencies = fleet.latencies
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    per_sync_cpu = {name: value / count for name, value in fleet.cpu.items()}
    customers, invoices = ctx.plan.fleet_tenant
    size = f"{customers} customers + {invoices} invoices + contacts each"
    ctx.results.add(
        Row(
            "fleet",
            "incremental syncs per minute",
            round(count / wall * 60),
            "syncs/min",
            note=f"target >= {TARGET_PER_MINUTE}; {count} credentials ({size}), one worker, "
            f"all started at once as their schedules would; {wall:.1f}s from the first start "
            f"to the last result; {fleet.changes:,} changes, {fleet.pages:,} pages fetched"
            + _queue_note(fleet.health),
        )
    )
    ctx.results.add(
        Row(
            "fleet",
            "incremental sync latency p50",
            round(p50, 2),
            "s",
            note=f"start request to the launcher's result; min {min(latencies):.2f}s, "
            f"max {max(latencies):.2f}s",
        )
    )
    ctx.results.add(
        Row(
            "fleet",
            "incremental sync latency p95",
            round(p95, 2),
            "s",
            baseline=round(p50, 2),
            baseline_label="p50",
            ratio=round(p95 / p50, 3) if p50 else None,
            ratio_label="p95 / p50",
        )
    )
    ctx.results.add(
        Row(
            "fleet",
            "CPU seconds per incremental sync",
            round(sum(per_sync_cpu.values()), 3),
            "cpu-s",
            note=", ".join(f"{name} {value:.3f}" for name, value in per_sync_cpu.items()),
        )
    )
    history = sum(fleet.history.values()) / count
    beyond = (fleet.server.heartbeats + fleet.server.queries) / count
    ctx.results.add(
        Row(
            "fleet",
            "Temporal actions per scheduled sync",
            round(fleet.actions, 1),
            "actions",
            note=f"launcher + sync histories {history:.1f}, heartbeats and queries {beyond:.1f}"
            + ("" if fleet.server.available else " (not measured)")
            + f", the Schedule's own {SCHEDULE_ACTIONS}"
            + _retry_note(fleet.retry_causes),
        )
    )
    ctx.results.add(
        Row(
            "fleet",
            "full syncs per minute (onboarding)",
            round(count / fleet.full_seconds * 60),
            "syncs/min",
            note=f"{count} first syncs at once, {fleet.full_records:,} records in "
            f"{fleet.full_seconds:.1f}s; {count} credentials onboarded in "
            f"{fleet.onboard_seconds:.1f}s",
        )
    )
    ctx.results.details["fleet"] = {
        "credentials": count,
        "wave_seconds": round(wall, 3),
        "syncs_per_minute": round(count / wall * 60, 1),
        "latency_seconds": {
            "p50": round(p50, 3),
            "p95": round(p95, 3),
            "max": round(max(latencies), 3),
            "min": round(min(latencies), 3),
        },
        "cpu_seconds": fleet.cpu,
        "cpu_seconds_per_sync": {k: round(v, 4) for k, v in per_sync_cpu.items()},
        "pages_served": fleet.pages,
        "actions_per_sync": round(fleet.actions, 2),
        "history_actions": dict(sorted(fleet.history.items())),
        "retry_causes": dict(fleet.retry_causes.most_common()),
        "server_action_counter": fleet.server.by_type if fleet.server.available else None,
        "schedule_actions": SCHEDULE_ACTIONS * count,
        "queues": fleet.health,
        "full_syncs": {"seconds": round(fleet.full_seconds, 3), "records": fleet.full_records},
        "onboard_seconds": round(fleet.onboard_seconds, 3),
        "phase_seconds": fleet.phases,
    }


def _retry_note(causes: Counter[str]) -> str:
    """How many activities were retried, and their last failure (a busy worker's show as
    heartbeat timeouts)."""
    if not causes:
        return "; no activity retried"
    kinds = ", ".join(f"{kind} {n}" for kind, n in causes.most_common())
    return f"; {sum(causes.values())} activities retried (last failure: {kinds})"


def _queue_note(health: dict[str, Any]) -> str:
    """What the server saw of the wave: refusals for a rate limit, waits for worker slots."""
    if not health:
        return ""
    waits = health["schedule_to_start"]
    shown = ", ".join(f"{kind} {wait['mean_wait_ms']:.0f} ms" for kind, wait in waits.items())
    return (
        f"; {health['resource_exhausted_errors']} requests refused for a rate limit; "
        f"mean wait of a queued task for a worker: {shown}"
    )
