"""Peak RSS of the worker process while it syncs ~100k records and ~1M records.

Each size gets a fresh worker process and a fresh database, so the peak belongs to that sync
alone; the worker's idle RSS (after start-up) is reported too. Memory must not grow with the
size of the tenant: a page at a time is in memory, never the feed.
"""

from __future__ import annotations

from bench.context import BenchContext, Row
from bench.measure import Measured, check_rows, measured_sync
from bench.syncs import onboard


async def run(ctx: BenchContext) -> None:
    measured: list[Measured] = []
    for index, tenant in enumerate(ctx.plan.memory):
        url = ctx.databases.fresh(f"memory{index}")
        credentials = await onboard(url, ctx.keys, [tenant])
        worker = ctx.worker(f"memory{index}", url)
        try:
            result = await measured_sync(ctx, worker, credentials[tenant.tenant_id], tenant)
        finally:
            worker.stop()
        contacts = next(
            s.records for s in result.run.result.streams if s.stream == "customer_contacts"
        )
        check_rows(ctx, url, tenant, f"memory {result.run.records:,} records", contacts=contacts)
        measured.append(result)

    small, large = measured
    for result in measured:
        ctx.results.add(
            Row(
                "memory",
                f"worker peak RSS, {result.run.records:,} records",
                round(result.memory.peak_mb, 1),
                "MB",
                baseline=round(small.memory.peak_mb, 1),
                baseline_label=f"{small.run.records:,} records",
                ratio=round(result.memory.peak / small.memory.peak, 3),
                ratio_label="peak / smaller sync's peak",
                note=f"idle {result.memory.start_mb:.0f} MB; "
                f"{result.records_per_second:,.0f} records/s",
            )
        )
    ctx.results.details["memory"] = {
        "small": small.as_dict(),
        "large": large.as_dict(),
        "growth_ratio": round(large.memory.peak / small.memory.peak, 3),
        "size_ratio": round(large.run.records / small.run.records, 1),
    }
