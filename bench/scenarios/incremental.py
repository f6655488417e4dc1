"""An incremental sync after 1% of the large tenant's records changed, then one with nothing
changed, against the full sync.

Continues in the end-to-end scenario's database: the sandbox modifies 1% of the customers and
of the invoices and changes contacts of 1% of the customers (each change moves the record to
the tail of its export feed, as ServiceTitan does), then the same credential syncs again from
its stored ``continueFrom`` tokens. The rows must again equal the sandbox's ground truth. Then
the credential syncs once more with nothing changed — what a scheduled sync of a quiet tenant
costs most of the time: its seconds and its Temporal actions (``bench/actions.py``).
"""

from __future__ import annotations

from bench.actions import actions_row, mark, sync_actions
from bench.context import BenchContext, Row
from bench.measure import Measured, check_rows, measured_sync
from bench.scenarios.throughput import E2E_CREDENTIAL, E2E_DATABASE, E2E_FULL_SYNC, E2E_WORKER
from bench.verify import BenchFailure
from bench.worker import BenchWorker
from workflows.sync import workflow_id_for


async def run(ctx: BenchContext) -> None:
    if E2E_FULL_SYNC not in ctx.handoff:
        raise BenchFailure("the incremental scenario needs the throughput scenario's full sync")
    tenant = ctx.plan.large
    full: Measured = ctx.handoff[E2E_FULL_SYNC]
    worker: BenchWorker = ctx.handoff[E2E_WORKER]
    fraction = ctx.plan.incremental_fraction
    customers = max(1, round(tenant.customers * fraction))
    invoices = max(1, round(tenant.invoices * fraction))
    ctx.sandbox.admin(
        "POST",
        "mutate",
        {
            "tenant_id": tenant.tenant_id,
            "modify": customers,
            "contacts": customers,
            "kinds": ["customers"],
        },
    )
    ctx.sandbox.admin(
        "POST",
        "mutate",
        {"tenant_id": tenant.tenant_id, "modify": invoices, "kinds": ["invoices"]},
    )
    changed = customers * 2 + invoices
    credential: int = ctx.handoff[E2E_CREDENTIAL]
    workflow_id = workflow_id_for(credential)
    before = await mark(ctx.temporal)
    incremental = await measured_sync(ctx, worker, credential, tenant, mode="incremental")
    changed_actions = await sync_actions(ctx.temporal, workflow_id, before)
    check_rows(ctx, ctx.handoff[E2E_DATABASE], tenant, "incremental sync")

    before = await mark(ctx.temporal)
    idle = await measured_sync(ctx, worker, credential, tenant, mode="incremental")
    idle_actions = await sync_actions(ctx.temporal, workflow_id, before)
    check_rows(ctx, ctx.handoff[E2E_DATABASE], tenant, "incremental sync, nothing changed")
    ctx.release(worker)

    ctx.results.add(
        Row(
            "incremental",
            f"pages fetched after {fraction:.0%} changed",
            incremental.served.pages,
            "pages",
            baseline=full.served.pages,
            baseline_label="full sync",
            ratio=round(incremental.served.pages / full.served.pages, 4),
            ratio_label="incremental / full",
            note=f"{changed:,} changes, {incremental.run.records:,} records read",
        )
    )
    ctx.results.add(
        Row(
            "incremental",
            f"seconds after {fraction:.0%} changed",
            round(incremental.run.seconds, 2),
            "s",
            baseline=round(full.run.seconds, 2),
            baseline_label="full sync",
            ratio=round(incremental.run.seconds / full.run.seconds, 4),
            ratio_label="incremental / full",
            note=f"start request to workflow result; {changed_actions.total:,} Temporal actions",
        )
    )
    ctx.results.add(
        Row(
            "incremental",
            "seconds, nothing changed",
            round(idle.run.seconds, 2),
            "s",
            baseline=round(full.run.seconds, 2),
            baseline_label="full sync",
            ratio=round(idle.run.seconds / full.run.seconds, 4),
            ratio_label="idle / full",
            note=f"start request to workflow result; {idle.served.pages} pages fetched, "
            f"{idle.run.records:,} records",
        )
    )
    ctx.results.add(
        actions_row(
            "incremental",
            "Temporal actions, nothing changed",
            idle_actions.total,
            idle_actions,
            target="<= 8 per idle sync",
        )
    )
    ctx.results.details["incremental"] = {
        "changes": {"customers": customers, "contacts": customers, "invoices": invoices},
        "incremental": incremental.as_dict(),
        "incremental_actions": changed_actions.as_dict(),
        "idle": idle.as_dict(),
        "idle_actions": idle_actions.as_dict(),
        "full": full.as_dict(),
    }
