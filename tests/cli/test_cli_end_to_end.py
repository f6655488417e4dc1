"""The operator's whole path through ``starter.py``, as a user would type it.

A real worker process and a real sandbox server; every command is a subprocess with the same
environment an operator would have. Checks outputs, exit codes, the database, and that no
command ever prints the secret.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import Client

from tests.cli.conftest import Cli
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment

TENANT = 4001
SECRET = "cs1.sandbox-4001"


@pytest.mark.slow
async def test_operator_journey(
    database_url: str, temporal_client: Client, encryption_keys: str, tmp_path: Path
) -> None:
    sandbox = SandboxServer(
        tenants=f"{TENANT}:300:700,4002:20:30", workdir=tmp_path, export_page_size=100
    ).start()
    env = worker_environment(
        database_url=database_url,
        temporal_address=temporal_client.service_client.config.target_host,
        task_queue=f"cli-{uuid.uuid4().hex[:8]}",
        sandbox_url=sandbox.url,
        encryption_keys=encryption_keys,
        data_dir=tmp_path,
    )
    worker = WorkerProcess(env, tmp_path)
    cli = Cli(env)
    with running(sandbox, worker):
        worker.start()
        company = cli.json(
            "companies",
            "add",
            "--name",
            "Acme Plumbing",
            "--intacct-id",
            "ACME-1",
            "--trade",
            "Plumbing",
        )
        assert company["id"] >= 1 and company["primary_trade"] == "Plumbing"

        credential = cli.json(
            "credentials",
            "add",
            "--company",
            str(company["id"]),
            "--tenant-id",
            str(TENANT),
            "--client-id",
            f"cid.sandbox-{TENANT}",
            "--environment",
            "production",
            "--client-secret-stdin",
            stdin=SECRET + "\n",
        )
        cid = str(credential["id"])
        assert credential["client_id_masked"] == "cid.…4001"
        duplicate = cli.run(
            "credentials",
            "add",
            "--company",
            str(company["id"]),
            "--tenant-id",
            str(TENANT),
            "--client-id",
            "cid.other",
            "--environment",
            "production",
            "--client-secret-stdin",
            stdin="cs1.other\n",
            expect=1,
        )
        assert "already has a production credential" in duplicate.stderr

        tested = cli.json("credentials", "test", cid)
        assert tested["verdict"] == "connected"

        result = cli.json("sync", cid, "--wait")
        assert result["status"] == "completed" and result["records_rejected"] == 0
        with psycopg.connect(database_url) as connection:
            invoices = connection.execute("SELECT count(*) FROM invoices_stream").fetchone()
        assert invoices == (700,)
        assert result["records_processed"] >= 300 + 700

        status = cli.json("status", cid)
        assert status["running"] is None and status["last_sync"]["status"] == "completed"
        history = cli.json("history", "--credential", cid)
        assert [h["status"] for h in history] == ["completed"]
        dashboard = cli.json("dashboard")
        assert dashboard[0]["last_sync_status"] == "completed"
        assert dashboard[0]["connection_status"] == "connected"
        human = cli.run("dashboard").stdout
        assert "Acme Plumbing" in human and "completed" in human

        # One sync per credential: a second request attaches instead of starting another.
        sandbox.admin("POST", "faults", {"latency_seconds": 0.8})  # ~15 pages: 12 s
        first = cli.json("sync", cid, "--full")
        assert first["started"] is True
        second = cli.run("sync", cid, "--json")
        again = json.loads(second.stdout)
        assert again == {
            "workflow_id": f"servicetitan-sync-{cid}",
            "started": False,
            "already_running": True,
        }
        assert f"already running: servicetitan-sync-{cid}" in second.stderr
        live = cli.json("status", cid)
        assert live["running"] is not None and live["running"]["status"] == "running"
        followed = cli.json("sync", cid, "--wait")  # attaches and waits for the same run
        assert followed["status"] == "completed"
        assert followed["sync_log_id"] == live["running"]["sync_log_id"]
        sandbox.admin("POST", "faults/reset")
        assert len(cli.json("history", "--credential", cid)) == 2

        # Schedules: runs happen, pause stops them, trigger runs one now, delete removes it.
        made = cli.json("schedule", "set", cid, "--every", "2s", "--jitter", "0")
        assert made["created"] is True and made["spec"] == "every 2s"
        _wait_for(lambda: _scheduled_runs(cli, cid) >= 1, 60, "a scheduled run")
        cli.json("schedule", "pause", cid)
        paused_at = _scheduled_runs(cli, cid)
        time.sleep(5)
        assert _scheduled_runs(cli, cid) <= paused_at + 1  # at most one already in flight
        listing = cli.json("schedule", "list")
        assert listing[0]["paused"] is True
        cli.json("schedule", "resume", cid)
        cli.json("schedule", "pause", cid)
        before_trigger = _scheduled_runs(cli, cid)
        cli.json("schedule", "trigger", cid)
        _wait_for(lambda: _scheduled_runs(cli, cid) > before_trigger, 60, "the triggered run")
        assert cli.json("schedule", "set", cid, "--every", "1h")["created"] is False

        # Rotating the secret keeps the credential and its history.
        rotated = cli.json(
            "credentials", "update", cid, "--client-secret-stdin", stdin=SECRET + "\n"
        )
        assert rotated["changed"] == ["client_secret"]
        assert len(cli.json("history", "--credential", cid, "--limit", "100")) >= 3

        # Key rotation: a new key in front, `keys rotate`, then the old key can go.
        new_key = cli.run("keys", "generate").stdout.strip()
        rotating = Cli({**env, "CREDENTIAL_ENCRYPTION_KEYS": f"{new_key},{encryption_keys}"})
        assert rotating.json("keys", "rotate")["values_rewritten"] >= 2
        new_only = Cli({**env, "CREDENTIAL_ENCRYPTION_KEYS": new_key})
        assert new_only.json("credentials", "show", cid)["client_id_masked"] == "cid.…4001"
        stale_key = Cli({**env, "CREDENTIAL_ENCRYPTION_KEYS": encryption_keys.split(",")[1]})
        unreadable = stale_key.run("credentials", "show", cid, expect=1)
        assert f"credential {cid}" in unreadable.stderr and "keys" in unreadable.stderr
        cli.outputs += rotating.outputs + new_only.outputs + stale_key.outputs
        cli.env = new_only.env  # the old keys are gone from the configuration now

        deleted = cli.json("credentials", "delete", cid)
        assert deleted == {"id": int(cid), "deleted": True, "schedule_deleted": True}
        assert cli.json("schedule", "list") == []
        missing = cli.run("credentials", "show", cid, expect=1)
        assert missing.stderr.strip() == f"error: no credential with id {cid}"

    for output in [*cli.outputs, worker.logs()]:
        assert SECRET not in output


def _scheduled_runs(cli: Cli, credential: str) -> int:
    history: list[dict[str, Any]] = cli.json(
        "history", "--credential", credential, "--limit", "100"
    )
    return sum(1 for entry in history if entry["sync_type"] == "scheduled")


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f}s")
        time.sleep(0.5)
