"""The ServiceTitan sandbox as the demo tenant, shared by the worker and the CLI.

With embedded defaults and no ``SERVICETITAN_APP_KEY``, nobody can reach a real ServiceTitan,
so the worker starts the sandbox (``python -m sandbox serve``) on a loopback port and both
entry points point their integration and production URLs at it. Like the other embedded
services it is started once, detached, found again through its port file, and stopped with
``starter.py embedded stop``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.embedded.process import (
    file_lock,
    pid_is_alive,
    read_pid,
    spawn_detached,
    stop_pid,
)
from core.logging import get_logger

log = get_logger(__name__)

HOST = "127.0.0.1"
APP_KEY = "ak1.sandbox"
# tenant:customers:invoices — a tenant big enough to show paging, small enough to sync in
# seconds, and a second one to onboard by hand (credentials cid.sandbox-<t> / cs1.sandbox-<t>).
DEMO_TENANTS = "1001:2500:7500,1002:300:900"
DEMO_TENANT = 1001
# The credential the sandbox gives a tenant started without one, as the demo onboards it.
DEMO_CLIENT_ID = f"cid.sandbox-{DEMO_TENANT}"
DEMO_CLIENT_SECRET = f"cs1.sandbox-{DEMO_TENANT}"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EmbeddedSandbox:
    url: str
    app_key: str
    started_here: bool
    pid: int | None


def _paths(data_dir: Path) -> tuple[Path, Path, Path, Path]:
    home = data_dir / "sandbox"
    return home / "port", home / "server.pid", home / "server.log", home / ".lock"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sandbox/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_sandbox_server(
    data_dir: Path, tenants: str = DEMO_TENANTS, startup_timeout: float = 60.0
) -> EmbeddedSandbox:
    port_path, pid_path, log_path, lock_path = _paths(data_dir)
    with file_lock(lock_path):
        if port_path.exists():
            url = f"http://{HOST}:{port_path.read_text().strip()}"
            if _answers(url):
                return EmbeddedSandbox(url, APP_KEY, False, read_pid(pid_path))
            port_path.unlink(missing_ok=True)
        port_path.parent.mkdir(parents=True, exist_ok=True)
        pid = spawn_detached(
            [
                sys.executable,
                "-m",
                "sandbox",
                "serve",
                "--host",
                HOST,
                "--port",
                "0",
                "--port-file",
                str(port_path),
                "--tenants",
                tenants,
                "--seed",
                "42",
                "--quiet",
            ],
            log_path,
            cwd=PROJECT_ROOT,
        )
        pid_path.write_text(f"{pid}\n")
        deadline = time.monotonic() + startup_timeout
        while not port_path.exists():
            if not pid_is_alive(pid):
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the ServiceTitan sandbox exited during start-up:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError("the ServiceTitan sandbox did not start in time")
            time.sleep(0.1)
        url = f"http://{HOST}:{port_path.read_text().strip()}"
        log.info("started the ServiceTitan sandbox as the demo tenant", url=url, pid=pid)
        return EmbeddedSandbox(url, APP_KEY, True, pid)


def stop_sandbox_server(data_dir: Path) -> bool:
    port_path, pid_path, _log, lock_path = _paths(data_dir)
    with file_lock(lock_path):
        pid = read_pid(pid_path)
        if pid is None:
            return False
        stopped = stop_pid(pid)
        if stopped:
            pid_path.unlink(missing_ok=True)
            port_path.unlink(missing_ok=True)
        return stopped
