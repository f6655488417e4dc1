"""``python -m sandbox serve --port-file`` removes the file on every way it stops (issue 21).

uvicorn re-raises a captured SIGTERM after its shutdown, which used to kill the process before
the clean-up ran and left a stale port file behind for the next start to trust.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.sandbox.serving import start_serve


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_port_file_is_removed_when_the_server_is_stopped(tmp_path: Path, stop: int) -> None:
    port_file = tmp_path / "sandbox.port"
    process, port = start_serve(port_file, "--tenants", "3101:5:5", "--quiet")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/_sandbox/health").status_code == 200
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, (process.returncode, err)
    assert not port_file.exists()
    assert not port_file.with_name(port_file.name + ".tmp").exists()
    assert "Traceback" not in err
