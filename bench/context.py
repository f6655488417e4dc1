"""What every scenario of a run shares: the plan, the services, and where results go.

A scenario asks the context for a fresh database and a worker for it, runs syncs through
Temporal, verifies the rows and records what it measured. Measurements are ``Row``s (one line
of the printed table) plus free-form ``details`` for the JSON file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter
from bench.plan import Plan
from bench.services import Databases, Temporal
from bench.worker import ROOT, BenchWorker
from tests.support.processes import SandboxServer

_SHARED = "shared_worker"


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    ``ratio`` is ``value / baseline`` (or as ``ratio_label`` says); a ratio against a baseline
    measured in the same run is the number to trust on a noisy machine.
    """

    scenario: str
    measure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    ratio_label: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "measure": self.measure,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_label": self.baseline_label,
            "ratio": self.ratio,
            "ratio_label": self.ratio_label,
            "note": self.note,
        }


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    verified: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per tenant: how its rows were checked (exact/counts) and the row counts."""

    def add(self, row: Row) -> None:
        self.rows.append(row)


@dataclass
class BenchContext:
    plan: Plan
    sandbox: SandboxServer
    databases: Databases
    temporal: Temporal
    keys: str
    workdir: Path
    cpu: CpuMeter
    results: Results = field(default_factory=Results)
    root: Path = ROOT
    workers: list[BenchWorker] = field(default_factory=list)
    profile_workers: tuple[str, ...] = ()
    """Names of workers to run under pyinstrument (profiles land in ``profile_dir``)."""
    profile_dir: Path | None = None
    handoff: dict[str, Any] = field(default_factory=dict)
    """What one scenario leaves for a later one (the e2e database and worker, full-sync
    figures), so the incremental scenario continues where the full sync ended."""

    def worker(
        self,
        name: str,
        database_url: str,
        instruments: tuple[str, ...] = (),
        *,
        task_queue: str | None = None,
    ) -> BenchWorker:
        """A started worker for ``database_url``, on a task queue of its own unless given."""
        worker = BenchWorker(
            name=name,
            database_url=database_url,
            temporal_address=self.temporal.address,
            task_queue=task_queue or f"bench-{name}-{uuid.uuid4().hex[:6]}",
            sandbox_url=self.sandbox.url,
            encryption_keys=self.keys,
            workdir=self.workdir,
            root=self.root,
            instruments=instruments,
        )
        if name in self.profile_workers and self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            worker.instruments = ("--profile", str(self.profile_dir / f"worker-{name}"))
        self.workers.append(worker)
        return worker.start()

    def scenario_worker(self, name: str) -> BenchWorker:
        """The worker a scenario syncs with; its database is ``worker.database_url``.

        A fresh database and worker per scenario, so one scenario's table sizes and worker
        state cannot touch the next one's figures; with ``plan.share_worker`` (the quick run)
        one shared pair, to save worker start-ups.
        """
        if not self.plan.share_worker:
            return self.worker(name, self.databases.fresh(name))
        shared: BenchWorker | None = self.handoff.get(_SHARED)
        if shared is None:
            shared = self.worker("shared", self.databases.fresh("shared"))
            self.handoff[_SHARED] = shared
        return shared

    def release(self, worker: BenchWorker) -> None:
        """Stop a scenario's worker, unless it is the shared one."""
        if worker is not self.handoff.get(_SHARED):
            worker.stop()

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
