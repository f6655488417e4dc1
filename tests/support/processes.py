"""Real processes for tests that must kill things: the sandbox server and ``worker.py``.

The crash, reliability and benchmark code needs a worker it can SIGKILL and start again,
talking to a sandbox over real HTTP, exactly as in production. Every process started here is
tracked by pid and stopped by pid (never by name), and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate: Any, timeout: float, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


@dataclass
class SandboxServer:
    """``python -m sandbox serve`` on a free loopback port."""

    tenants: str
    workdir: Path
    seed: int = 42
    export_page_size: int = 1000
    rate_limit: float = 60.0
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60.0) -> SandboxServer:
        """Start and wait for the port file (``--warm`` on big tenants needs a longer wait)."""
        port_file = self.workdir / f"sandbox-{os.getpid()}-{id(self)}.port"
        port_file.unlink(missing_ok=True)
        log = (self.workdir / "sandbox.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--seed",
                str(self.seed),
                "--tenants",
                self.tenants,
                "--export-page-size",
                str(self.export_page_size),
                "--rate-limit",
                str(self.rate_limit),
                "--quiet",
                *self.extra_args,
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _wait_for(port_file.exists, ready_timeout, "sandbox server", self.process)
        self.port = int(port_file.read_text().strip())
        return self

    def admin(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class WorkerProcess:
    """``python worker.py`` with a given environment; can be SIGKILLed and restarted."""

    env: dict[str, str]
    workdir: Path
    name: str = "worker"
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_paths: list[Path] = field(default_factory=list)

    def start(self, ready_timeout: float = 60.0) -> WorkerProcess:
        self.starts += 1
        log_path = self.workdir / f"{self.name}-{self.starts}.log"
        self.log_paths.append(log_path)
        environment = {**os.environ, **self.env, "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env=environment,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        _wait_for(
            lambda: "worker polling" in log_path.read_text(errors="replace"),
            ready_timeout,
            f"{self.name} ({log_path})",
            self.process,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up, no graceful shutdown — a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def interrupt(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for the graceful shutdown; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_paths if p.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.interrupt(timeout=20)
        self.kill()


def worker_environment(
    *,
    database_url: str,
    temporal_address: str,
    task_queue: str,
    sandbox_url: str,
    encryption_keys: str,
    data_dir: Path,
    **extra: str,
) -> dict[str, str]:
    """Configuration for a worker process that syncs from the sandbox (no embedded parts)."""
    return {
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "SERVICETITAN_APP_KEY": "ak1.sandbox",
        "SERVICETITAN_AUTH_URL_PRODUCTION": sandbox_url,
        "SERVICETITAN_API_URL_PRODUCTION": sandbox_url,
        "SERVICETITAN_AUTH_URL_INTEGRATION": sandbox_url,
        "SERVICETITAN_API_URL_INTEGRATION": sandbox_url,
        "SERVICETITAN_RATE_LIMIT_PER_SECOND": "1000",
        "CREDENTIAL_ENCRYPTION_KEYS": encryption_keys,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
        **extra,
    }


@contextlib.contextmanager
def running(*processes: SandboxServer | WorkerProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for process in reversed(processes):
            process.stop()
