"""Where a page's time goes: the sync's activities run in this process, profiled.

    python -m bench.profile [--invoices 20000] [--customers 10000] [--page-size 1000]
                            [--profiler pyinstrument|cprofile|none] [--out FILE]

The activities run exactly as the worker runs them (bound to the worker's own
``make_dependencies``), each in a Temporal ``ActivityEnvironment`` (so heartbeats work),
batch after batch, without the Temporal server: ``fetch_pages`` then ``map_and_insert_pages``
for each batch of ``PAGES_PER_ACTIVITY`` pages, one after the other (the workflow fetches the
next batch while it applies one; here they are timed apart), against a warmed sandbox server
(a child process, so its CPU stays out of the profile) and an embedded PostgreSQL. It prints
the time per phase (fetch, apply by stream) and the profile.

The difference between the end-to-end time of ``python -m bench`` and this loop is what
orchestration costs (Temporal round trips, workflow tasks, heartbeats).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.apply import ApplyActivities
from activities.dependencies import SyncDependencies
from activities.fetch import FetchActivities
from activities.run_lifecycle import RunActivities
from activities.tokens import TokenActivities
from bench.plan import QUICK, Plan, Tenant
from bench.services import databases, encryption_keys
from bench.syncs import onboard
from contracts.sync import ApplyPagesInput, FetchPageInput, RefreshTokenInput, StartRunInput
from core.logging import configure_logging
from core.settings import load_settings
from db.database import Database
from runtime.worker import make_dependencies
from servicetitan.config import ClientConfig
from servicetitan.http import close_shared_http_client
from workflows.paging import PAGES_PER_ACTIVITY


async def sync_in_process(
    deps: SyncDependencies, credential_id: int, phases: dict[str, float]
) -> tuple[int, int]:
    """One full sync, sequential, phases timed; returns (records, pages)."""
    runs, fetch, apply = RunActivities(deps), FetchActivities(deps), ApplyActivities(deps)
    env = ActivityEnvironment()
    context = await env.run(
        runs.start_run,
        StartRunInput(credential_id, "both", "manual", "full", None, "profile", "run"),
    )
    await env.run(TokenActivities(deps).refresh_token, RefreshTokenInput(credential_id))
    records = pages = 0
    for stream in context.streams:
        cursor = stream.cursor
        while True:
            started = time.perf_counter()
            batch = await env.run(
                fetch.fetch_pages,
                FetchPageInput(
                    credential_id,
                    context.sync_log_id,
                    stream.stream,
                    cursor,
                    max_pages=PAGES_PER_ACTIVITY,
                ),
            )
            middle = time.perf_counter()
            await env.run(
                apply.map_and_insert_pages,
                ApplyPagesInput(
                    credential_id, context.sync_log_id, context.import_job_id, batch.pages
                ),
            )
            done = time.perf_counter()
            phases[f"fetch {stream.stream}"] += middle - started
            phases[f"apply {stream.stream}"] += done - middle
            records += sum(page.record_count for page in batch.pages)
            pages += len(batch.pages)
            last = batch.pages[-1]
            cursor = last.cursor_out
            if not last.has_more:
                break
    return records, pages


async def profile(args: argparse.Namespace) -> None:
    from bench.sandbox import start_sandbox

    tenant = Tenant(3001, args.customers, args.invoices)
    plan = Plan(**{**QUICK.__dict__, "large": tenant, "page_size": args.page_size})
    plan = _only_large(plan)
    workdir = Path(tempfile.mkdtemp(prefix="stsync-profile-"))
    sandbox = start_sandbox(plan, workdir)
    try:
        with databases() as store:
            url = store.fresh("profile")
            keys = encryption_keys()
            ids = await onboard(url, keys, [tenant])
            settings = load_settings(
                _env_file=None,
                database_url=url,
                temporal_address="127.0.0.1:1",
                credential_encryption_keys=keys,
                servicetitan_app_key="ak1.sandbox",
                servicetitan_auth_url_production=sandbox.url,
                servicetitan_api_url_production=sandbox.url,
                servicetitan_rate_limit_per_second=1000,
                data_dir=workdir,
            )
            database = Database(url, pool_size=4)
            deps = make_dependencies(settings, database, ClientConfig.from_settings(settings), None)
            phases: dict[str, float] = defaultdict(float)
            profiler: Any = None
            if args.profiler == "pyinstrument":
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="enabled", interval=0.0005)
                profiler.start()
            elif args.profiler == "cprofile":
                profiler = cProfile.Profile()
                profiler.enable()
            started = time.perf_counter()
            records, pages = await sync_in_process(deps, ids[tenant.tenant_id], phases)
            seconds = time.perf_counter() - started
            if args.profiler == "pyinstrument":
                profiler.stop()
            elif args.profiler == "cprofile":
                profiler.disable()
            await database.close()
            await close_shared_http_client()
    finally:
        sandbox.stop()
    print(
        f"{records} records, {pages} pages in {seconds:.2f}s = {records / seconds:,.0f} records/s"
    )
    for name, value in sorted(phases.items()):
        print(f"  {name:<28} {value:7.2f}s  {value / seconds:6.1%}")
    if args.profiler == "pyinstrument":
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        _emit(text, args.out)
    elif args.profiler == "cprofile":
        stats = pstats.Stats(profiler)
        if args.out:
            stats.dump_stats(args.out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)


def _only_large(plan: Plan) -> Plan:
    """The profile needs one tenant; the rest of the plan's tenants would only cost warm-up."""
    return Plan(
        **{
            **plan.__dict__,
            "memory": (Tenant(9001, 1, 1), Tenant(9002, 1, 1)),
            "scaling_tenant": (1, 1),
            "concurrency": (),
            "latency_tenant": Tenant(9003, 1, 1),
            "resume_tenant": (1, 1),
            "sandbox_cache_mb": 4096,
        }
    )


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text)
        print(f"profile written to {out}")
    else:
        print(text)


def main() -> None:
    configure_logging("WARNING", "console")
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument(
        "--profiler", choices=("pyinstrument", "cprofile", "none"), default="pyinstrument"
    )
    parser.add_argument("--out")
    asyncio.run(profile(parser.parse_args()))


if __name__ == "__main__":
    main()
