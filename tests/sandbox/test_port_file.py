"""``python -m sandbox serve --port-file`` removes the file on every way it stops (issue 21).

uvicorn re-raises a captured SIGTERM after its shutdown, which used to kill the process before
the clean-up ran and left a stale port file behind for the next start to trust.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def _start(port_file: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--port-file", str(port_file),
         "--tenants", "3101:5:5", "--quiet"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"server did not start: {process.communicate()}")
        time.sleep(0.05)
    return process, int(port_file.read_text())


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_port_file_is_removed_when_the_server_is_stopped(tmp_path: Path, stop: int) -> None:
    port_file = tmp_path / "sandbox.port"
    process, port = _start(port_file)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/_sandbox/health").status_code == 200
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, (process.returncode, err)
    assert not port_file.exists()
    assert not port_file.with_name(port_file.name + ".tmp").exists()
    assert "Traceback" not in err
