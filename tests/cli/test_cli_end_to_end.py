"""The operator's whole path through ``starter.py``, as a user would type it, step by step.

A real worker process and a real sandbox server; every command is a subprocess with the same
environment an operator would have. Each step is a test of its own, so a failure names the
step; the steps share one database, worker and sandbox (the class-scoped ``journey``), run in
order, and a step after a failed one is skipped (tests/cli/conftest.py). The last step checks
that no command and no worker log ever showed the secret.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from temporalio.client import Client

from tests.cli.conftest import Cli, operator_world
from tests.support.processes import SandboxServer, WorkerProcess

TENANT = 4001
SECRET = "cs1.sandbox-4001"


@dataclass
class Journey:
    """What the steps share: the operator's CLI, the processes, and the ids made so far."""

    cli: Cli
    sandbox: SandboxServer
    worker: WorkerProcess
    database_url: str
    encryption_keys: str
    company_id: int = 0
    credential: str = ""
    """The credential's id as the operator types it."""


@pytest.fixture(scope="class")
def journey(
    postgres_server_url: str,
    template_database: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Journey]:
    with operator_world(
        postgres_server_url=postgres_server_url,
        template_database=template_database,
        temporal_client=temporal_client,
        encryption_keys=encryption_keys,
        workdir=tmp_path_factory.mktemp("journey"),
        tenants=f"{TENANT}:300:700,4002:20:30",
        export_page_size=100,
        queue_prefix="cli",
    ) as world:
        yield Journey(world.cli, world.sandbox, world.worker, world.database_url, encryption_keys)


def _add_credential_args(journey: Journey, client_id: str) -> list[str]:
    return [
        "credentials", "add", "--company", str(journey.company_id), "--tenant-id", str(TENANT),
        "--client-id", client_id, "--environment", "production", "--client-secret-stdin",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.incremental
class TestOperatorJourney:
    """One operator, one company, one credential: from onboarding to deletion."""

    def test_add_a_company(self, journey: Journey) -> None:
        company = journey.cli.json(
            "companies", "add", "--name", "Acme Plumbing", "--intacct-id", "ACME-1",
            "--trade", "Plumbing",
        )  # fmt: skip
        assert company["id"] >= 1 and company["primary_trade"] == "Plumbing"
        journey.company_id = company["id"]

    def test_add_its_credential_once_per_environment(self, journey: Journey) -> None:
        args = _add_credential_args(journey, f"cid.sandbox-{TENANT}")
        credential = journey.cli.json(*args, stdin=SECRET + "\n")
        assert credential["client_id_masked"] == "cid.…4001"
        journey.credential = str(credential["id"])

        args = _add_credential_args(journey, "cid.other")
        duplicate = journey.cli.run(*args, stdin="cs1.other\n", expect=1)
        assert "already has a production credential" in duplicate.stderr

    def test_the_credential_connects(self, journey: Journey) -> None:
        tested = journey.cli.json("credentials", "test", journey.credential)
        assert tested["verdict"] == "connected"

    def test_a_sync_lands_every_record(self, journey: Journey) -> None:
        result = journey.cli.json("sync", journey.credential, "--wait")
        assert result["status"] == "completed" and result["records_rejected"] == 0
        with psycopg.connect(journey.database_url) as connection:
            invoices = connection.execute("SELECT count(*) FROM invoices_stream").fetchone()
        assert invoices == (700,)
        assert result["records_processed"] >= 300 + 700

    def test_status_history_and_dashboard_show_the_sync(self, journey: Journey) -> None:
        cli, cid = journey.cli, journey.credential
        status = cli.json("status", cid)
        assert status["running"] is None and status["last_sync"]["status"] == "completed"
        history = cli.json("history", "--credential", cid)
        assert [h["status"] for h in history] == ["completed"]
        dashboard = cli.json("dashboard")
        assert dashboard[0]["last_sync_status"] == "completed"
        assert dashboard[0]["connection_status"] == "connected"
        human = cli.run("dashboard").stdout
        assert "Acme Plumbing" in human and "completed" in human

    def test_a_second_sync_request_attaches_to_the_running_one(self, journey: Journey) -> None:
        """The sync is held by 429s on its invoice feed until the follower has attached, so
        no command below can find it finished, however slow the machine."""
        cli, cid = journey.cli, journey.credential
        journey.sandbox.admin(
            "POST",
            "faults/force-429",
            {"seconds": 120, "retry_after": 1, "endpoint": "export_invoices"},
        )
        first = cli.json("sync", cid, "--full")
        assert first["started"] is True
        second = cli.run("sync", cid, "--json")
        assert json.loads(second.stdout) == {
            "workflow_id": f"servicetitan-sync-{cid}",
            "started": False,
            "already_running": True,
        }
        assert f"already running: servicetitan-sync-{cid}" in second.stderr
        live = cli.json("status", cid)
        assert live["running"] is not None and live["running"]["status"] == "running"
        follower = cli.start("sync", cid, "--wait", "--json")  # attaches, waits for the same run
        attached = _read_until(follower, f"already running: servicetitan-sync-{cid}")
        journey.sandbox.admin("POST", "faults/reset")  # the held invoice feed goes on
        stdout, _ = cli.finish(follower, seen_stderr=attached)
        followed = json.loads(stdout)
        assert followed["status"] == "completed"
        assert followed["sync_log_id"] == live["running"]["sync_log_id"]
        assert len(cli.json("history", "--credential", cid)) == 2

    def test_schedules_run_pause_and_trigger(self, journey: Journey) -> None:
        cli, cid = journey.cli, journey.credential
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

    def test_rotating_the_secret_keeps_the_credential_and_its_history(
        self, journey: Journey
    ) -> None:
        cli, cid = journey.cli, journey.credential
        rotated = cli.json(
            "credentials", "update", cid, "--client-secret-stdin", stdin=SECRET + "\n"
        )
        assert rotated["changed"] == ["client_secret"]
        assert len(cli.json("history", "--credential", cid, "--limit", "100")) >= 3

    def test_rotating_the_encryption_keys(self, journey: Journey) -> None:
        """A new key in front, ``keys rotate``, then the old keys can go."""
        cli, cid, keys = journey.cli, journey.credential, journey.encryption_keys
        new_key = cli.run("keys", "generate").stdout.strip()
        rotating = Cli({**cli.env, "CREDENTIAL_ENCRYPTION_KEYS": f"{new_key},{keys}"})
        new_only = Cli({**cli.env, "CREDENTIAL_ENCRYPTION_KEYS": new_key})
        stale_key = Cli({**cli.env, "CREDENTIAL_ENCRYPTION_KEYS": keys.split(",")[1]})
        try:
            assert rotating.json("keys", "rotate")["values_rewritten"] >= 2
            assert new_only.json("credentials", "show", cid)["client_id_masked"] == "cid.…4001"
            unreadable = stale_key.run("credentials", "show", cid, expect=1)
            assert f"credential {cid}" in unreadable.stderr and "keys" in unreadable.stderr
        finally:
            cli.outputs += rotating.outputs + new_only.outputs + stale_key.outputs
        cli.env = new_only.env  # the old keys are gone from the configuration now

    def test_deleting_the_credential_removes_its_schedule(self, journey: Journey) -> None:
        cli, cid = journey.cli, journey.credential
        deleted = cli.json("credentials", "delete", cid)
        assert deleted == {"id": int(cid), "deleted": True, "schedule_deleted": True}
        assert cli.json("schedule", "list") == []
        missing = cli.run("credentials", "show", cid, expect=1)
        assert missing.stderr.strip() == f"error: no credential with id {cid}"

    def test_no_command_or_worker_log_showed_the_secret(self, journey: Journey) -> None:
        outputs = [*journey.cli.outputs, journey.worker.logs()]
        assert len(outputs) > 40  # every step's commands were recorded
        assert [i for i, output in enumerate(outputs) if SECRET in output] == []


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


def _read_until(process: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """Read a started command's stderr line by line until ``needle``; returns what was read."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break  # the command exited without the line
        seen.append(line)
        if needle in line:
            return "".join(seen)
    process.kill()
    process.communicate()
    raise AssertionError(f"{needle!r} never appeared on stderr:\n{''.join(seen)}")
