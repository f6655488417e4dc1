"""One sync measured from every side: wall time, pages and records served, CPU, worker RSS.

Also the row check every scenario ends with: field by field against the sandbox's ground
truth (or row counts for tenants above the plan's ``verify_rows_up_to``), recorded in the
results so the quick run's test can assert that every synced table was exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.context import BenchContext
from bench.plan import Tenant
from bench.sandbox import Served, reset_counters, served
from bench.syncs import SyncRun, sync
from bench.verify import RowCounts, verify_counts, verify_exact
from bench.worker import BenchWorker, MemoryWindow
from contracts.sync import Mode


@dataclass(frozen=True)
class Measured:
    run: SyncRun
    served: Served
    cpu: dict[str, float]
    memory: MemoryWindow

    @property
    def records_per_second(self) -> float:
        return self.run.records / self.run.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.run.seconds, 3),
            "records": self.run.records,
            "pages": self.run.pages,
            "records_per_second": round(self.records_per_second, 1),
            "pages_served": self.served.pages,
            "pages_refetched": self.served.refetched_pages,
            "records_served": self.served.records,
            "cpu_seconds": self.cpu,
            "worker_rss_start_mb": round(self.memory.start_mb, 1),
            "worker_rss_peak_mb": round(self.memory.peak_mb, 1),
        }


async def measured_sync(
    ctx: BenchContext,
    worker: BenchWorker,
    credential_id: int,
    tenant: Tenant,
    *,
    mode: Mode = "incremental",
) -> Measured:
    """Reset the sandbox counters, run one sync, collect everything measured about it."""
    reset_counters(ctx.sandbox)
    with worker.memory() as memory, ctx.cpu.measure(worker=worker.pid) as cpu:
        run = await sync(
            ctx.temporal.client,
            credential_id,
            worker.task_queue,
            mode=mode,
            limit_seconds=ctx.plan.sync_timeout_seconds,
        )
    return Measured(run, served(ctx.sandbox, tenant.tenant_id), cpu, memory)


def check_rows(
    ctx: BenchContext,
    database_url: str,
    tenant: Tenant,
    label: str,
    *,
    contacts: int | None = None,
) -> RowCounts:
    """Exact rows (or counts for very large tenants); raises ``BenchFailure`` on a mismatch.

    ``contacts`` is the number of contacts the sandbox served, for the count-only check.
    """
    records = tenant.invoices + tenant.customers * 3
    if records <= ctx.plan.verify_rows_up_to:
        counts = verify_exact(ctx.sandbox, database_url, tenant.tenant_id)
        how = "exact"
    else:
        counts = verify_counts(
            database_url,
            tenant.tenant_id,
            invoices=tenant.invoices,
            customers=tenant.customers,
            contacts=contacts,
        )
        how = "counts"
    ctx.results.verified[label] = {
        "tenant": tenant.tenant_id,
        "check": how,
        "invoices": counts.invoices,
        "members": counts.members,
        "contacts": counts.contacts,
        "expected_invoices": tenant.invoices,
        "expected_members": tenant.customers,
    }
    return counts
