"""End-to-end throughput of a full sync of the large tenant, next to the limit and dlt.

Order: limit, ours, (two workers), dlt, limit again, ours again. The limit and our sync each
run twice, at the start and at the end, and the ratio is the mean of ours over the mean of the
limit, so a slow spell of the (shared, noisy) machine during one run moves it less (single
runs of either moved by ±15% between runs). All of them read the same export feeds of the
same tenant from the same warmed sandbox into the same PostgreSQL server. The database of the
first sync is kept for the incremental scenario; the second syncs into a fresh one with a
fresh worker. CPU, wall-time split and the two-worker comparison are those of the first.
"""

from __future__ import annotations

from statistics import mean

from bench.actions import actions_row, mark, sync_actions
from bench.context import BenchContext, Row
from bench.dlt_peer import run_dlt
from bench.history import breakdown
from bench.limit import LimitRun, run_limit
from bench.measure import Measured, check_rows, measured_sync
from bench.syncs import onboard
from bench.verify import BenchFailure
from workflows.sync import workflow_id_for

# Handed to the incremental scenario.
E2E_DATABASE = "e2e_database_url"
E2E_WORKER = "e2e_worker"
E2E_CREDENTIAL = "e2e_credential"
E2E_FULL_SYNC = "e2e_full_sync"


async def run(ctx: BenchContext) -> None:
    tenant = ctx.plan.large
    limits: list[LimitRun] = []
    limit_url = ctx.databases.fresh("limit")
    limits.append(run_limit(ctx.sandbox, tenant.tenant_id, limit_url))

    worker = ctx.scenario_worker("e2e")
    url = worker.database_url
    credentials = await onboard(url, ctx.keys, [tenant])
    before = await mark(ctx.temporal)
    ours = await measured_sync(ctx, worker, credentials[tenant.tenant_id], tenant)
    workflow_id = workflow_id_for(credentials[tenant.tenant_id])
    actions = await sync_actions(ctx.temporal, workflow_id, before)
    check_rows(ctx, url, tenant, "e2e full sync")
    timeline = await breakdown(ctx.temporal.client, workflow_id, ours.run.pages)
    ctx.handoff.update(
        {
            E2E_DATABASE: url,
            E2E_WORKER: worker,
            E2E_CREDENTIAL: credentials[tenant.tenant_id],
            E2E_FULL_SYNC: ours,
        }
    )

    pair = await _two_workers(ctx) if ctx.plan.two_worker_run else None

    dlt = run_dlt(
        sandbox_url=ctx.sandbox.url,
        tenant_id=tenant.tenant_id,
        database_url=ctx.databases.fresh("dlt"),
        workdir=ctx.workdir / "dlt",
        timeout=ctx.plan.sync_timeout_seconds,
    )
    if dlt.total != ours.run.records:
        ctx.results.details["dlt_record_mismatch"] = {"dlt": dlt.records, "ours": ours.run.records}
    limits.append(run_limit(ctx.sandbox, tenant.tenant_id, ctx.databases.fresh("limit2")))
    again = await _ours_again(ctx) if ctx.plan.ours_twice else None
    syncs = [ours] if again is None else [ours, again]
    for limit in limits:
        if limit.records != ours.run.records:
            raise BenchFailure(
                f"the limit read {limit.records} records, our sync {ours.run.records}"
            )

    limit_rate = mean(run.records / run.seconds for run in limits)
    dlt_rate = dlt.total / dlt.seconds
    ours_rate = mean(sync.records_per_second for sync in syncs)
    first_rate = ours.records_per_second
    size = f"{tenant.invoices:,} invoices + {tenant.customers:,} customers + contacts"
    ctx.results.add(
        Row(
            "throughput",
            "limit: httpx + COPY raw jsonb",
            round(limit_rate),
            "records/s",
            note=f"mean of 2 runs ({', '.join(f'{r.records / r.seconds:,.0f}' for r in limits)})",
        )
    )
    ctx.results.add(
        Row(
            "throughput",
            "ours: full sync, worker + Temporal",
            round(ours_rate),
            "records/s",
            baseline=round(limit_rate),
            baseline_label="limit",
            ratio=round(ours_rate / limit_rate, 3),
            ratio_label="ours / limit",
            note=f"{ours.run.records:,} records ({size}), {ours.run.pages} pages; "
            f"mean of {len(syncs)} ("
            + ", ".join(f"{s.records_per_second:,.0f} in {s.run.seconds:.1f}s" for s in syncs)
            + ")",
        )
    )
    if pair is not None:
        pair_rate = pair.records_per_second
        ctx.results.add(
            Row(
                "throughput",
                "ours: same, 2 worker processes",
                round(pair_rate),
                "records/s",
                baseline=round(limit_rate),
                baseline_label="limit",
                ratio=round(pair_rate / limit_rate, 3),
                ratio_label="ours / limit",
                note=f"{pair_rate / first_rate:.2f}x one worker (the first run); "
                f"{pair.run.seconds:.1f}s",
            )
        )
    ctx.results.add(
        Row(
            "throughput",
            "dlt rest_api -> postgres",
            round(dlt_rate),
            "records/s",
            baseline=round(dlt_rate),
            baseline_label="dlt",
            ratio=round(ours_rate / dlt_rate, 3),
            ratio_label="ours / dlt",
            note=f"{dlt.total:,} records in {dlt.seconds:.1f}s",
        )
    )
    cpu = ours.cpu
    ctx.results.add(
        Row(
            "throughput",
            "ours: CPU seconds by process",
            round(sum(cpu.values()), 2),
            "cpu-s",
            note=", ".join(f"{name} {value:.1f}" for name, value in cpu.items()),
        )
    )
    ctx.results.add(
        Row(
            "throughput",
            "ours: wall time by what ran",
            round(timeline["wall_seconds"], 2),
            "s",
            note=f"applying {timeline['applying_seconds']:.1f}s "
            f"(mean {timeline['mean_apply_ms']:.0f} ms/page), other activities alone "
            f"{timeline['other_activities_alone_seconds']:.1f}s, no activity running "
            f"{timeline['orchestration_gap_seconds']:.1f}s",
        )
    )
    ctx.results.add(
        actions_row(
            "throughput",
            "ours: Temporal actions per 100k records",
            round(actions.total * 100_000 / ours.run.records, 1),
            actions,
            target="<= 100 per 100k records",
            unit="actions/100k records",
            extra=f"{ours.run.pages} pages, {actions.runs} run(s)",
        )
    )
    ctx.results.details["throughput"] = {
        "ours_timeline": timeline,
        "ours_actions": actions.as_dict(),
        "limit": [
            {
                "seconds": round(r.seconds, 3),
                "records": r.records,
                "pages": r.pages,
                "fetch_seconds": round(r.fetch_seconds, 3),
            }
            for r in limits
        ],
        "ours": ours.as_dict(),
        "ours_again": again.as_dict() if again is not None else None,
        "ours_two_workers": pair.as_dict() if pair is not None else None,
        "dlt": {"seconds": round(dlt.seconds, 3), "records": dlt.records},
    }


async def _ours_again(ctx: BenchContext) -> Measured:
    """The full sync once more, at the end beside the second limit run, into a fresh database."""
    tenant = ctx.plan.large
    worker = ctx.worker("e2e3", ctx.databases.fresh("e2e3"))
    try:
        credentials = await onboard(worker.database_url, ctx.keys, [tenant])
        again = await measured_sync(ctx, worker, credentials[tenant.tenant_id], tenant)
    finally:
        worker.stop()
    check_rows(ctx, worker.database_url, tenant, "e2e full sync, second run")
    return again


async def _two_workers(ctx: BenchContext) -> Measured:
    """The same full sync with two worker processes polling one queue, into a fresh database:
    fetch and apply of neighbouring pages can then run on different cores."""
    tenant = ctx.plan.large
    url = ctx.databases.fresh("e2e2")
    credentials = await onboard(url, ctx.keys, [tenant])
    first = ctx.worker("e2e2a", url)
    second = ctx.worker("e2e2b", url, task_queue=first.task_queue)
    try:
        pair = await measured_sync(ctx, first, credentials[tenant.tenant_id], tenant)
    finally:
        first.stop()
        second.stop()
    check_rows(ctx, url, tenant, "e2e full sync, 2 workers")
    return pair
