"""Start ``python -m sandbox serve`` as a subprocess on a free port the server reports in a file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def start_serve(port_file: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Start the server with ``args`` and wait (30 s at most) for the port it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--port-file", str(port_file),
         *args],
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
