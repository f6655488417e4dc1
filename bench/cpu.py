"""CPU seconds per component during a scenario: worker, PostgreSQL, Temporal, sandbox.

On a two-core machine every process of the run competes for the same cores, so "what
dominates" is best answered in CPU seconds per component over one scenario, next to its wall
time. PostgreSQL counts its postmaster and every backend (its children); Temporal counts the
dev server process; both are skipped when they run elsewhere (``DATABASE_URL``,
``TEMPORAL_ADDRESS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil


def _tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class CpuMeter:
    """Named process trees; ``measure()`` yields a dict filled with CPU seconds at exit."""

    pids: dict[str, int] = field(default_factory=dict)

    def watch(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self.pids[name] = pid

    def snapshot(self) -> dict[str, float]:
        return {name: _tree_cpu(pid) for name, pid in self.pids.items()}

    @contextmanager
    def measure(self, **extra: int) -> Iterator[dict[str, float]]:
        """CPU seconds used by each watched tree (and ``extra`` pids) inside the block."""
        watched = {**self.pids, **extra}
        before = {name: _tree_cpu(pid) for name, pid in watched.items()}
        used: dict[str, float] = {}
        try:
            yield used
        finally:
            for name, pid in watched.items():
                used[name] = round(max(_tree_cpu(pid) - before[name], 0.0), 2)


def find_child(name_part: str) -> int | None:
    """The pid of a child process of this one whose name contains ``name_part``."""
    for child in psutil.Process().children(recursive=True):
        try:
            if name_part in child.name():
                return child.pid
        except psutil.Error:
            continue
    return None
