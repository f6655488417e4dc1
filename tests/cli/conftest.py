"""Running ``starter.py`` as an operator would: a subprocess, one command at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from tests.support.processes import ROOT


@dataclass
class Cli:
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def run(
        self, *args: str, stdin: str | None = None, expect: int | None = 0, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "starter.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env, "COLUMNS": "200"},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.outputs += [completed.stdout, completed.stderr]
        assert "Traceback" not in completed.stderr, completed.stderr
        if expect is not None:
            assert completed.returncode == expect, (
                f"starter.py {' '.join(args)} exited {completed.returncode}, expected {expect}:\n"
                f"{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def json(self, *args: str, stdin: str | None = None) -> Any:
        """Run with --json: stdout must be exactly one JSON document."""
        return json.loads(self.run(*args, "--json", stdin=stdin).stdout)
