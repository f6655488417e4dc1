"""Running ``starter.py`` as an operator would: a subprocess, one command at a time.

A class marked ``incremental`` is a journey of ordered steps sharing state: once a step
fails, the steps after it are skipped (they would only fail for its reason), so the failure
names the step that broke.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.support.databases import fresh_database
from tests.support.processes import (
    ROOT,
    SandboxServer,
    WorkerProcess,
    running,
    worker_environment,
)

_FAILED_STEP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "incremental: a class of ordered steps sharing state")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    failed = call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception)
    if failed and item.get_closest_marker("incremental") and item.parent:
        item.parent.stash.setdefault(_FAILED_STEP, item.name)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("incremental") and item.parent:
        failed = item.parent.stash.get(_FAILED_STEP, None)
        if failed is not None:
            pytest.skip(f"an earlier step failed: {failed}")


@dataclass
class Cli:
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def run(
        self, *args: str, stdin: str | None = None, expect: int | None = 0, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            _starter(args),
            cwd=ROOT,
            env=self._environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        command = " ".join(args)
        self._check(command, completed.returncode, completed.stdout, completed.stderr, expect)
        return completed

    def json(self, *args: str, stdin: str | None = None) -> Any:
        """Run with --json: stdout must be exactly one JSON document."""
        return json.loads(self.run(*args, "--json", stdin=stdin).stdout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a command in the background (line-buffered pipes); ``finish`` collects it."""
        return subprocess.Popen(
            _starter(args),
            cwd=ROOT,
            env={**self._environment(), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def finish(
        self, process: subprocess.Popen[str], *, seen_stderr: str = "", timeout: float = 180
    ) -> tuple[str, str]:
        """Wait for a started command; it must exit 0. Returns its stdout and whole stderr."""
        try:
            stdout, rest = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        stderr = seen_stderr + rest
        self._check(str(process.args), process.returncode, stdout, stderr, 0)
        return stdout, stderr

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.env, "COLUMNS": "200"}

    def _check(
        self, command: str, returncode: int, stdout: str, stderr: str, expect: int | None
    ) -> None:
        """Keep the output for the secret scan; no traceback, and the exit code expected."""
        self.outputs += [stdout, stderr]
        assert "Traceback" not in stderr, stderr
        if expect is not None:
            assert returncode == expect, (
                f"starter.py {command} exited {returncode}, expected {expect}:\n{stdout}\n{stderr}"
            )


def _starter(args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "starter.py", *args]


@dataclass
class OperatorWorld:
    """A fresh database, a sandbox and a running worker, with the operator's CLI for them."""

    cli: Cli
    sandbox: SandboxServer
    worker: WorkerProcess
    database_url: str


@contextmanager
def operator_world(
    *,
    postgres_server_url: str,
    template_database: str,
    temporal_client: Client,
    encryption_keys: str,
    workdir: Path,
    tenants: str,
    export_page_size: int,
    queue_prefix: str,
    **extra_env: str,
) -> Iterator[OperatorWorld]:
    """Start the processes an end-to-end CLI journey drives; stop them (by pid) afterwards."""
    with fresh_database(postgres_server_url, template_database) as database_url:
        sandbox = SandboxServer(
            tenants=tenants, workdir=workdir, export_page_size=export_page_size
        ).start()
        env = worker_environment(
            database_url=database_url,
            temporal_address=temporal_client.service_client.config.target_host,
            task_queue=f"{queue_prefix}-{uuid.uuid4().hex[:8]}",
            sandbox_url=sandbox.url,
            encryption_keys=encryption_keys,
            data_dir=workdir,
            **extra_env,
        )
        worker = WorkerProcess(env, workdir)
        with running(sandbox, worker):
            worker.start()
            yield OperatorWorld(Cli(env), sandbox, worker, database_url)
