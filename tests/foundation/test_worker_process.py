"""``python worker.py`` with nothing configured: the README's run command, end to end.

It must start (or reuse) the embedded Temporal server with its Web UI and the embedded
PostgreSQL, let the sandbox play ServiceTitan, run the demo sync to completion (visible in
Temporal with the project's search attributes), share everything with a second process, and
stop cleanly on Ctrl-C leaving only the documented embedded servers behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.client import Client

from tests.support.processes import ROOT

CONFIGURED = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "SERVICETITAN_APP_KEY",
    "CREDENTIAL_ENCRYPTION_KEYS",
    "TEMPORAL_TASK_QUEUE",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    """Running (an exited child this test does not reap shows as a zombie)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


@pytest.mark.slow
async def test_worker_on_embedded_defaults_runs_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    grpc_port, ui_port = _free_port(), _free_port()
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        EMBEDDED_TEMPORAL_PORT=str(grpc_port),
        EMBEDDED_TEMPORAL_UI_PORT=str(ui_port),
        LOG_FORMAT="json",
    )
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    data = tmp_path / "data"
    try:
        deadline = time.monotonic() + 180
        while "demo: sync completed" not in log_path.read_text():
            assert worker.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        events = [
            json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
        ]
        banner = next(e for e in events if e["event"].startswith("embedded defaults in use"))
        assert f"Temporal Web UI at http://127.0.0.1:{ui_port}" in banner["event"]
        completed = next(e for e in events if e["event"] == "demo: sync completed")
        assert completed["rejected"] == 0 and completed["invoices"] > 0

        # The Web UI answers, and the demo run is findable by the project's search attributes.
        assert httpx.get(f"http://127.0.0.1:{ui_port}", timeout=10).status_code == 200
        client = await Client.connect(f"127.0.0.1:{grpc_port}")
        found = [
            e.id
            async for e in client.list_workflows(
                "StCredentialId = 1 AND StSyncStatus = 'completed' AND StTenantId = '1001'"
            )
        ]
        assert "servicetitan-sync-1" in found

        # A second process shares the same embedded services instead of starting new ones.
        temporal_pid = _pid(data / "temporal" / "server.pid")
        postgres_pid = _pid(data / "postgres" / "postmaster.pid")
        sandbox_pid = _pid(data / "sandbox" / "server.pid")
        dashboard = subprocess.run(
            [sys.executable, "starter.py", "dashboard", "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert dashboard.returncode == 0, dashboard.stderr
        rows = json.loads(dashboard.stdout)
        assert rows[0]["last_sync_status"] == "completed" and rows[0]["next_run"]
        assert _pid(data / "temporal" / "server.pid") == temporal_pid
        assert _pid(data / "postgres" / "postmaster.pid") == postgres_pid
        assert _pid(data / "sandbox" / "server.pid") == sandbox_pid

        # Ctrl-C: a clean stop, and nothing left behind but the documented embedded servers.
        children = {p.pid for p in psutil.Process(worker.pid).children(recursive=True)}
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=60) == 0
        assert '"worker stopped"' in log_path.read_text()
        # Helpers that end with the worker (multiprocessing's resource tracker of the mapping
        # pool) get a moment to notice it is gone; anything else left behind fails the test.
        embedded = {temporal_pid, postgres_pid, sandbox_pid}
        deadline = time.monotonic() + 10
        while (survivors := {pid for pid in children if _alive(pid)}) - embedded:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert survivors <= embedded
        for pid in (temporal_pid, postgres_pid, sandbox_pid):
            assert psutil.pid_exists(pid)
    finally:
        if worker.poll() is None:
            worker.kill()
        stop = subprocess.run(
            [sys.executable, "starter.py", "embedded", "stop"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert stop.returncode == 0, stop.stderr
    assert "stopped" in stop.stdout
    for pid in (temporal_pid, postgres_pid, sandbox_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
