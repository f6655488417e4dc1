"""``python -m bench``: every scenario of issues 8 and 22 in one run, one table, one JSON file.

    python -m bench                 # the full run (~20 minutes on 2 cores)
    python -m bench --quick         # small sizes, every scenario, about 2 minutes (CI)
    python -m bench --only throughput,incremental
    python -m bench --only fleet    # 500 small tenants syncing at once (~4-5 minutes)
    python -m bench --json-out /tmp/results.json

Exit status 0 when every scenario ran and every synced table was exactly right; 1 otherwise
(the table and the JSON file still show what was measured before the failure).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

from bench.context import BenchContext, Results
from bench.cpu import CpuMeter, find_child
from bench.plan import PLANS, Plan, Tenant
from bench.report import RESULTS_DIR, table, write_json
from bench.sandbox import start_sandbox
from bench.scenarios import SCENARIOS
from bench.services import databases, encryption_keys, temporal
from bench.verify import BenchFailure
from bench.worker import ROOT
from core.logging import configure_logging


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_bench(
    plan: Plan,
    scenarios: list[str],
    *,
    workdir: Path,
    root: Path = ROOT,
    profile_workers: tuple[str, ...] = (),
) -> tuple[Results, bool]:
    """Run ``scenarios`` in order; returns the results and whether all of them succeeded."""
    results = Results()
    started = time.perf_counter()
    with databases() as store:
        # The sandbox warms its page cache while PostgreSQL and Temporal come up.
        sandbox_start = asyncio.create_task(
            asyncio.to_thread(start_sandbox, plan, workdir, scenarios)
        )
        try:
            async with temporal() as service:
                sandbox = await sandbox_start
                _say(f"services up in {time.perf_counter() - started:.1f}s")
                cpu = CpuMeter()
                cpu.watch("postgres", store.server_pid)
                cpu.watch("temporal", find_child("temporal"))
                cpu.watch("sandbox", sandbox.process.pid if sandbox.process else None)
                ctx = BenchContext(
                    plan=plan,
                    sandbox=sandbox,
                    databases=store,
                    temporal=service,
                    keys=encryption_keys(),
                    workdir=workdir,
                    cpu=cpu,
                    results=results,
                    root=root,
                    profile_workers=profile_workers,
                    profile_dir=RESULTS_DIR / "profiles",
                )
                try:
                    for name in scenarios:
                        begun = time.perf_counter()
                        _say(f"==> {name}")
                        await SCENARIOS[name](ctx)
                        _say(f"    {name} done in {time.perf_counter() - begun:.1f}s")
                    return results, True
                except BenchFailure as failure:
                    _say(f"FAILED in {name}: {failure}")
                    results.details["failure"] = {"scenario": name, "error": str(failure)}
                    return results, False
                except Exception as error:
                    _say(f"FAILED in {name}: {type(error).__name__}: {error}")
                    traceback.print_exc()
                    results.details["failure"] = {
                        "scenario": name,
                        "error": f"{type(error).__name__}: {error}",
                    }
                    return results, False
                finally:
                    ctx.stop_workers()
        finally:
            if not sandbox_start.done():
                sandbox_start.cancel()
            elif sandbox_start.exception() is None:
                sandbox_start.result().stop()


def _interrupt_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: the worker, sandbox, Temporal and PostgreSQL it
    started are stopped by their context managers instead of being left behind."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios (default: all of {', '.join(SCENARIOS)})"
    )
    parser.add_argument("--json-out", type=Path, help="write the JSON results here")
    parser.add_argument("--keep-workdir", action="store_true", help="keep worker and sandbox logs")
    parser.add_argument(
        "--large",
        metavar="CUSTOMERS:INVOICES",
        help="resize the end-to-end tenant (e.g. 10000:20000 for a quicker throughput run)",
    )
    parser.add_argument(
        "--profile-worker",
        action="store_true",
        help="run the end-to-end and fleet workers under pyinstrument (bench/results/profiles/)",
    )
    args = parser.parse_args(argv)
    _interrupt_on_sigterm()
    plan = PLANS["quick" if args.quick else "full"]
    if args.large:
        customers, invoices = (int(n) for n in args.large.split(":"))
        plan = replace(plan, large=Tenant(plan.large.tenant_id, customers, invoices))
    scenarios = list(SCENARIOS) if not args.only else args.only.split(",")
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
    configure_logging("WARNING", "console")

    workdir = Path(tempfile.mkdtemp(prefix="stsync-bench-"))
    started = time.perf_counter()
    ok = False
    results = Results()
    try:
        results, ok = asyncio.run(
            run_bench(
                plan,
                scenarios,
                workdir=workdir,
                profile_workers=("e2e", "fleet") if args.profile_worker else (),
            )
        )
    finally:
        seconds = time.perf_counter() - started
        path = write_json(
            results,
            plan=plan.name,
            status="ok" if ok else "failed",
            seconds=seconds,
            root=ROOT,
            out=args.json_out,
        )
        print(table(results.rows))
        _say(f"{plan.name} run {'finished' if ok else 'FAILED'} in {seconds:.0f}s; results: {path}")
        if args.keep_workdir or not ok:
            _say(f"logs kept in {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    raise SystemExit(0 if ok else 1)
