"""What a crash costs: SIGKILL the worker mid-sync, start it again, let the sync finish.

Two tenants of the same size in one database: one synced cleanly, one whose worker is
SIGKILLed when about half of the clean sync's pages are applied and restarted at once. Extra
pages are export pages the sandbox served more than once; extra seconds are the crashed sync's
time minus the clean one's (scaled by records, as the tenants differ by a few contacts).
Temporal notices the dead worker through the activity heartbeat timeout, so that timeout is
most of the extra time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import psycopg

from bench.context import BenchContext, Row
from bench.measure import check_rows, measured_sync
from bench.sandbox import reset_counters, served
from bench.syncs import onboard
from bench.verify import BenchFailure
from contracts.sync import SyncInput
from workflows.sync import HEARTBEAT_TIMEOUT, SyncWorkflow, workflow_id_for


def _pages_applied(connection: psycopg.Connection[Any], credential_id: int) -> int:
    row = connection.execute(
        "SELECT coalesce(sum(pages_applied), 0) FROM servicetitan_sync_state "
        "WHERE credential_id = %s",
        (credential_id,),
    ).fetchone()
    return int(row[0]) if row else 0


async def run(ctx: BenchContext) -> None:
    clean_tenant, crash_tenant = ctx.plan.resume_tenants()
    worker = ctx.scenario_worker("resume")
    url = worker.database_url
    credentials = await onboard(url, ctx.keys, [clean_tenant, crash_tenant])
    try:
        clean = await measured_sync(ctx, worker, credentials[clean_tenant.tenant_id], clean_tenant)
        check_rows(ctx, url, clean_tenant, "resume clean sync")

        credential = credentials[crash_tenant.tenant_id]
        kill_at = max(1, round(clean.run.pages * ctx.plan.resume_kill_fraction))
        reset_counters(ctx.sandbox)
        started = time.perf_counter()
        handle = await ctx.temporal.client.start_workflow(
            SyncWorkflow.run,
            SyncInput(credential_id=credential),
            id=workflow_id_for(credential),
            task_queue=worker.task_queue,
            execution_timeout=timedelta(seconds=ctx.plan.sync_timeout_seconds),
        )
        deadline = time.monotonic() + ctx.plan.sync_timeout_seconds
        # One connection: a new one per poll forks a PostgreSQL backend each time, which
        # slowed the sync being measured.
        with psycopg.connect(url, autocommit=True) as watching:
            while _pages_applied(watching, credential) < kill_at:
                if time.monotonic() > deadline:
                    raise BenchFailure(f"fewer than {kill_at} pages applied before the deadline")
                await asyncio.sleep(0.05)
        worker.kill()
        killed_at = time.perf_counter() - started
        restart = time.perf_counter()
        worker.start()
        restart_seconds = time.perf_counter() - restart
        try:
            result = await asyncio.wait_for(handle.result(), ctx.plan.sync_timeout_seconds)
        except Exception as error:
            raise BenchFailure(f"the sync did not complete after the crash: {error}") from None
        seconds = time.perf_counter() - started
        if result.status != "completed":
            raise BenchFailure(f"the sync ended {result.status} after the crash")
        crashed = served(ctx.sandbox, crash_tenant.tenant_id)
        check_rows(ctx, url, crash_tenant, "resume after SIGKILL")
    finally:
        ctx.release(worker)

    records = sum(stream.records for stream in result.streams)
    expected_seconds = clean.run.seconds * records / clean.run.records
    extra_seconds = seconds - expected_seconds
    ctx.results.add(
        Row(
            "resume",
            "extra pages fetched after SIGKILL",
            crashed.refetched_pages,
            "pages",
            baseline=crashed.pages - crashed.refetched_pages,
            baseline_label="pages of the sync",
            ratio=round(
                crashed.refetched_pages / max(crashed.pages - crashed.refetched_pages, 1), 4
            ),
            ratio_label="extra / needed",
            note=f"killed after {kill_at} of ~{clean.run.pages} pages applied",
        )
    )
    ctx.results.add(
        Row(
            "resume",
            "extra seconds after SIGKILL",
            round(extra_seconds, 2),
            "s",
            baseline=round(expected_seconds, 2),
            baseline_label="clean sync (scaled)",
            ratio=round(seconds / expected_seconds, 3),
            ratio_label="crashed / clean",
            note=f"worker restart {restart_seconds:.1f}s; the heartbeat timeout "
            f"({HEARTBEAT_TIMEOUT.total_seconds():.0f}s) detects the crash",
        )
    )
    ctx.results.details["resume"] = {
        "clean": clean.as_dict(),
        "crashed": {
            "seconds": round(seconds, 3),
            "records": records,
            "killed_after_seconds": round(killed_at, 3),
            "killed_after_pages_applied": kill_at,
            "worker_restart_seconds": round(restart_seconds, 3),
            "pages_served": crashed.pages,
            "pages_refetched": crashed.refetched_pages,
        },
        "extra_seconds": round(extra_seconds, 3),
    }
