"""Before/after of one change, measured side by side: ``python -m bench.ab``.

    python -m bench.ab before=3577f89~1 after=3577f89 [--rounds 3] [--large 10000:20000]
    python -m bench.ab now=. freeze=.+gc-freeze
    python -m bench.ab one=. two=.+setting=SYNC_MAPPING_PROCESSES=2
    python -m bench.ab before=93de637~1 after=93de637 --latency 0.3 --large 4000:10000

Each variant is ``NAME=REVISION[+INSTRUMENT...]``: the worker code of a git revision
(extracted with ``git archive`` into a temporary directory; ``.`` is this working tree),
optionally with instruments of ``bench/worker_main.py`` (``gc-freeze``, ``gc-threshold=A:B:C``,
``setting=NAME=VALUE``). Every round syncs the large tenant once per variant
(in a rotating order, each into a fresh database, each with a fresh worker process) and runs
the limit once; the result is the median records/s per variant and its ratio to the first
variant's, so a slow spell of the machine hits all variants alike. Only the worker differs:
sandbox, PostgreSQL, Temporal and the bench itself are today's.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import median

from bench.context import BenchContext, Results
from bench.cpu import CpuMeter, find_child
from bench.limit import run_limit
from bench.measure import check_rows, measured_sync
from bench.plan import QUICK, Plan, Tenant
from bench.sandbox import start_sandbox
from bench.services import databases, encryption_keys, temporal
from bench.syncs import onboard
from bench.worker import ROOT
from core.logging import configure_logging


@dataclass
class Variant:
    name: str
    revision: str
    instruments: tuple[str, ...] = ()
    root: Path = ROOT
    rates: list[float] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, spec = text.partition("=")
        if not name or not spec:
            raise ValueError(f"expected NAME=REVISION[+INSTRUMENT...], got {text!r}")
        revision, *flags = spec.split("+")
        instruments = tuple(f"--{flag}" for flag in flags)
        return cls(name, revision, instruments)


def extract(revision: str, into: Path) -> Path:
    """The files of ``revision`` (``git archive``: nothing in the repository changes)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    target = into / revision.replace("/", "_").replace("~", "-").replace("^", "-")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


async def compare(
    variants: list[Variant], plan: Plan, rounds: int, verify: bool, latency: float
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="stsync-ab-"))
    for variant in variants:
        if variant.revision != ".":
            variant.root = extract(variant.revision, workdir / "trees")
    limits: list[float] = []
    tenant = plan.large
    try:
        with databases() as store:
            sandbox = start_sandbox(plan, workdir, ["throughput"])
            try:
                async with temporal() as service:
                    cpu = CpuMeter()
                    cpu.watch("postgres", store.server_pid)
                    cpu.watch("temporal", find_child("temporal"))
                    ctx = BenchContext(
                        plan=plan,
                        sandbox=sandbox,
                        databases=store,
                        temporal=service,
                        keys=encryption_keys(),
                        workdir=workdir,
                        cpu=cpu,
                        results=Results(),
                    )
                    if latency:
                        sandbox.admin(
                            "POST",
                            "faults",
                            {"latency_seconds": latency, "tenant_id": tenant.tenant_id},
                        )
                    for round_number in range(rounds):
                        order = variants[round_number % len(variants) :]
                        order += variants[: round_number % len(variants)]
                        limit = run_limit(
                            sandbox, tenant.tenant_id, store.fresh(f"limit{round_number}")
                        )
                        limits.append(limit.records / limit.seconds)
                        for variant in order:
                            label = f"{variant.name}{round_number}"
                            url = store.fresh(label)
                            credentials = await onboard(url, ctx.keys, [tenant])
                            ctx.root = variant.root
                            worker = ctx.worker(label, url, variant.instruments)
                            try:
                                result = await measured_sync(
                                    ctx, worker, credentials[tenant.tenant_id], tenant
                                )
                            finally:
                                worker.stop()
                            if verify:
                                check_rows(ctx, url, tenant, label)
                            variant.rates.append(result.records_per_second)
                            print(
                                f"round {round_number + 1} {variant.name:>10}: "
                                f"{result.records_per_second:8,.0f} records/s "
                                f"({result.run.seconds:.1f}s)",
                                file=sys.stderr,
                                flush=True,
                            )
            finally:
                sandbox.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = median(variants[0].rates)
    print(f"limit: median {median(limits):,.0f} records/s over {len(limits)} runs")
    for variant in variants:
        rate = median(variant.rates)
        rates = ", ".join(f"{r:,.0f}" for r in variant.rates)
        print(
            f"{variant.name:>10} ({variant.revision}{''.join(variant.instruments)}): "
            f"median {rate:,.0f} records/s, {rate / base:.2f}x {variants[0].name}, "
            f"{rate / median(limits):.2f} of the limit  [{rates}]"
        )


def _interrupt_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: the worker, sandbox, Temporal and PostgreSQL it
    started are stopped by their context managers instead of being left behind."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("variants", nargs="+", help="NAME=REVISION[+INSTRUMENT...]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--large", default="10000:20000", metavar="CUSTOMERS:INVOICES")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--no-verify", action="store_true", help="skip the exact-rows check")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds of API latency per response"
    )
    args = parser.parse_args()
    _interrupt_on_sigterm()
    configure_logging("WARNING", "console")
    customers, invoices = (int(n) for n in args.large.split(":"))
    plan = replace(
        QUICK,
        name="ab",
        large=Tenant(3001, customers, invoices),
        page_size=args.page_size,
        sandbox_cache_mb=4096,
        sync_timeout_seconds=1800,
    )
    variants = [Variant.parse(text) for text in args.variants]
    asyncio.run(compare(variants, plan, args.rounds, not args.no_verify, args.latency))


if __name__ == "__main__":
    main()
