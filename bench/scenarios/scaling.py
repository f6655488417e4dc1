"""Throughput with 1, 4 and 16 credentials syncing at once, and under API latency.

One worker process (the product's default of 32 concurrent activities) and one database for
the scenario; every credential is a tenant of its own with the same size, all started at once.
The figure is the aggregate: all records over the wall time until the last sync finished.
Then as many fresh tenants as the largest round again, with a second worker process on the
same task queue: N tenants over two workers against N over one.

Latency: the sandbox delays every API response of one tenant by ``latency_seconds`` (300 ms in
the full run, on a tenant the size of the throughput scenario's). A stream's export pages must
be fetched one after the other (each needs the previous page's ``continueFrom``), so with one
stream at a time ``pages x latency`` is a lower bound for the sync, and with the streams
fetched at once the longest stream's ``pages x latency`` is (the parallel bound); the closer
the sync gets to it, the better fetching page N+1 hides applying page N. The limit loop runs
against the same slow API for comparison: one stream after another, waiting for every response
with nothing to overlap.
"""

from __future__ import annotations

from collections import Counter

from bench.context import BenchContext, Row
from bench.limit import run_limit
from bench.measure import check_rows
from bench.sandbox import reset_counters, served
from bench.syncs import onboard, sync, sync_all
from bench.worker import BenchWorker
from tests.support.processes import SandboxServer

PARALLEL_TARGET = 1.15
"""Issue 22: the sync at most 15% above the parallel bound."""
LIMIT_TARGET = 2.0
"""Issue 22: at least twice as fast as the sequential limit loop at 300 ms."""


def pages_by_feed(sandbox: SandboxServer, tenant_id: int) -> dict[str, int]:
    """Export pages the sandbox served per feed (stream) since the last counter reset."""
    pages: Counter[str] = Counter()
    for page in sandbox.admin("GET", "counters")["pages"]:
        if page["tenant_id"] == tenant_id and page["endpoint"].startswith("export"):
            pages[page["endpoint"]] += page["served"]
    return dict(pages)


async def run(ctx: BenchContext) -> None:
    rounds = ctx.plan.scaling_tenants()
    latency_tenant = ctx.plan.latency_tenant
    every = [t for group in rounds.values() for t in group] + [latency_tenant]
    every += ctx.plan.scaling_pair_tenants()
    worker = ctx.scenario_worker("scaling")
    url = worker.database_url
    credentials = await onboard(url, ctx.keys, every)
    timeout = ctx.plan.sync_timeout_seconds
    try:
        rates: dict[int, float] = {}
        details: dict[str, object] = {}
        for count, tenants in rounds.items():
            reset_counters(ctx.sandbox)
            with ctx.cpu.measure(worker=worker.pid) as cpu:
                seconds, runs = await sync_all(
                    ctx.temporal.client,
                    [credentials[t.tenant_id] for t in tenants],
                    worker.task_queue,
                    limit_seconds=timeout,
                )
            records = sum(r.records for r in runs)
            rates[count] = records / seconds
            details[f"{count}_credentials"] = {
                "seconds": round(seconds, 3),
                "records": records,
                "per_sync_seconds": [round(r.seconds, 2) for r in runs],
                "cpu_seconds": cpu,
            }
            for tenant in tenants:
                check_rows(ctx, url, tenant, f"scaling {count}x tenant {tenant.tenant_id}")
        for count, rate in rates.items():
            ctx.results.add(
                Row(
                    "scaling",
                    f"{count} credential{'s' if count > 1 else ''} at once",
                    round(rate),
                    "records/s",
                    baseline=round(rates[min(rates)]),
                    baseline_label="1 credential",
                    ratio=round(rate / rates[min(rates)], 3),
                    ratio_label="vs 1 credential",
                    note=f"aggregate, {details[f'{count}_credentials']['records']:,} records",  # type: ignore[index]
                )
            )

        await _two_workers(ctx, worker, credentials, rates)

        latency = ctx.plan.latency_seconds
        ctx.sandbox.admin(
            "POST", "faults", {"latency_seconds": latency, "tenant_id": latency_tenant.tenant_id}
        )
        try:
            reset_counters(ctx.sandbox)
            delayed = await sync(
                ctx.temporal.client,
                credentials[latency_tenant.tenant_id],
                worker.task_queue,
                limit_seconds=timeout,
            )
            pages = served(ctx.sandbox, latency_tenant.tenant_id).pages
            feeds = pages_by_feed(ctx.sandbox, latency_tenant.tenant_id)
            # The limit loop at the same latency: it cannot overlap anything with a response.
            slow_limit = run_limit(
                ctx.sandbox, latency_tenant.tenant_id, ctx.databases.fresh("latency_limit")
            )
        finally:
            ctx.sandbox.admin("POST", "faults/reset")
        check_rows(ctx, url, latency_tenant, "latency")
        bound = pages * latency
        ctx.results.add(
            Row(
                "scaling",
                f"{latency * 1000:.0f} ms API latency: sync seconds",
                round(delayed.seconds, 2),
                "s",
                baseline=round(bound, 2),
                baseline_label=f"{pages} pages x {latency * 1000:.0f} ms",
                ratio=round(bound / delayed.seconds, 3),
                ratio_label="bound / actual",
                note=f"{delayed.records:,} records; every stream's pages in turn: 1.0 = page "
                "fetches back to back, above 1 = streams fetched at once",
            )
        )
        longest = max(feeds.values(), default=0)
        parallel_bound = longest * latency
        ctx.results.add(
            Row(
                "scaling",
                f"{latency * 1000:.0f} ms API latency: vs parallel bound",
                round(delayed.seconds, 2),
                "s",
                baseline=round(parallel_bound, 2),
                baseline_label=f"{longest} pages (longest stream) x {latency * 1000:.0f} ms",
                ratio=round(delayed.seconds / parallel_bound, 3) if parallel_bound else None,
                ratio_label="actual / bound",
                note=f"target <= {PARALLEL_TARGET}; streams fetched at once, each stream's "
                "pages one after another; pages per feed "
                + ", ".join(f"{feed} {n}" for feed, n in sorted(feeds.items())),
            )
        )
        limit_rate = slow_limit.records / slow_limit.seconds
        ours_rate = delayed.records / delayed.seconds
        ctx.results.add(
            Row(
                "scaling",
                f"{latency * 1000:.0f} ms API latency: ours vs limit",
                round(ours_rate),
                "records/s",
                baseline=round(limit_rate),
                baseline_label=f"limit at {latency * 1000:.0f} ms",
                ratio=round(ours_rate / limit_rate, 3),
                ratio_label="ours / limit",
                note=f"target >= {LIMIT_TARGET:g}; the limit loop against the same slow API "
                f"({slow_limit.seconds:.1f}s), one page after another",
            )
        )
        details["latency"] = {
            "limit_seconds": round(slow_limit.seconds, 3),
            "latency_seconds": latency,
            "pages": pages,
            "seconds": round(delayed.seconds, 3),
            "bound_seconds": round(bound, 3),
            "pages_by_feed": feeds,
            "parallel_bound_seconds": round(parallel_bound, 3),
            "records": delayed.records,
        }
        ctx.results.details["scaling"] = details
    finally:
        ctx.release(worker)


async def _two_workers(
    ctx: BenchContext, worker: BenchWorker, credentials: dict[int, int], rates: dict[int, float]
) -> None:
    """The largest round's load again (fresh tenants), with a second worker on the queue."""
    tenants = ctx.plan.scaling_pair_tenants()
    count = len(tenants)
    second = ctx.worker("scaling-second", worker.database_url, task_queue=worker.task_queue)
    try:
        seconds, runs = await sync_all(
            ctx.temporal.client,
            [credentials[t.tenant_id] for t in tenants],
            worker.task_queue,
            limit_seconds=ctx.plan.sync_timeout_seconds,
        )
    finally:
        second.stop()
    for tenant in tenants:
        check_rows(
            ctx, worker.database_url, tenant, f"scaling 2 workers, tenant {tenant.tenant_id}"
        )
    records = sum(r.records for r in runs)
    rate = records / seconds
    one_worker = rates.get(count)
    ctx.results.add(
        Row(
            "scaling",
            f"{count} credentials at once, 2 worker processes",
            round(rate),
            "records/s",
            baseline=round(one_worker) if one_worker else None,
            baseline_label=f"{count} credentials, 1 worker",
            ratio=round(rate / one_worker, 3) if one_worker else None,
            ratio_label="2 workers / 1",
            note=f"target >= 1.0; aggregate, {records:,} records in {seconds:.1f}s",
        )
    )
