"""The worker as a real process (``worker.py``), with its resident memory sampled.

Configured exactly as the test suite configures it (``worker_environment`` of
``tests/support/processes.py``: real PostgreSQL, real Temporal, the sandbox as ServiceTitan).
A sampler thread reads the worker's RSS with psutil every 50 ms, so a scenario can ask for the
peak over just its own sync. ``root`` is the checkout whose ``worker.py`` runs: the A/B tool
(``python -m bench.ab``) points it at another revision.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.processes import worker_environment

ROOT = Path(__file__).resolve().parent.parent
WORKER_MAIN = Path(__file__).resolve().parent / "worker_main.py"
SAMPLE_SECONDS = 0.05
READY_LINE = "worker polling"


@dataclass
class MemoryWindow:
    """Start and peak RSS (bytes) of the worker over one window."""

    start: int = 0
    peak: int = 0

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def start_mb(self) -> float:
        return self.start / 2**20


class RssSampler:
    """Samples a process's RSS in a daemon thread; windows record their peak.

    The worker's figure includes its children: the mapping processes
    (``SYNC_MAPPING_PROCESSES``) hold pages too.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._windows: list[MemoryWindow] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def rss(self) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                total += int(process.memory_info().rss)
            except psutil.Error:
                continue
        return total

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            value = self.rss()
            with self._lock:
                for window in self._windows:
                    window.peak = max(window.peak, value)

    @contextmanager
    def window(self) -> Iterator[MemoryWindow]:
        window = MemoryWindow(start=self.rss())
        window.peak = window.start
        with self._lock:
            self._windows.append(window)
        try:
            yield window
        finally:
            with self._lock:
                self._windows.remove(window)
            window.peak = max(window.peak, self.rss())


@dataclass
class BenchWorker:
    """One ``worker.py`` process for one scenario's database and task queue."""

    name: str
    database_url: str
    temporal_address: str
    task_queue: str
    sandbox_url: str
    encryption_keys: str
    workdir: Path
    root: Path = ROOT
    extra_env: dict[str, str] = field(default_factory=dict)
    instruments: tuple[str, ...] = ()
    """Arguments for ``bench/worker_main.py`` (``--profile PREFIX``, ``--gc-freeze``); empty:
    plain ``worker.py``."""
    process: subprocess.Popen[bytes] | None = None
    sampler: RssSampler | None = None
    starts: int = 0
    start_seconds: list[float] = field(default_factory=list)

    def _log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.log"

    def start(self, timeout: float = 120.0) -> BenchWorker:
        """Start ``worker.py`` and wait until it polls its task queue."""
        self.starts += 1
        env = {
            **os.environ,
            **worker_environment(
                database_url=self.database_url,
                temporal_address=self.temporal_address,
                task_queue=self.task_queue,
                sandbox_url=self.sandbox_url,
                encryption_keys=self.encryption_keys,
                data_dir=self.workdir,
            ),
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        log_path = self._log_path()
        started = time.perf_counter()
        with log_path.open("ab") as log:
            command = [sys.executable, "worker.py"]
            if self.instruments:
                command = [sys.executable, str(WORKER_MAIN), *self.instruments]
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while READY_LINE not in log_path.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker {self.name} exited with {self.process.returncode}: "
                    f"{log_path.read_text(errors='replace')[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {self.name} not polling after {timeout:.0f}s")
            time.sleep(0.05)
        self.start_seconds.append(time.perf_counter() - started)
        self.sampler = RssSampler(self.process.pid)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: a crash, no clean-up."""
        if self.sampler is not None:
            self.sampler.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL if it does not leave within 30 s (10 minutes for a
        profiled worker: rendering the profile of a long run takes minutes)."""
        if self.sampler is not None:
            self.sampler.stop()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(600 if "--profile" in self.instruments else 30)
            return
        self.kill()

    @contextmanager
    def memory(self) -> Iterator[MemoryWindow]:
        assert self.sampler is not None
        with self.sampler.window() as window:
            yield window

    def logs(self) -> str:
        paths = [self.workdir / f"{self.name}-{n}.log" for n in range(1, self.starts + 1)]
        return "\n".join(p.read_text(errors="replace") for p in paths if p.exists())
