"""Secrets: nothing secret in clear anywhere the suite can look. Runs last (see conftest.py).

Needles: the sandbox client secrets (every one starts ``cs1.sandbox-``), every access token
the sandboxes issued (every one starts with the same JWT header; in-process sandboxes also
record each token exactly), the credential encryption keys and the app key.

Haystacks: every database a reliability test used (every text, varchar, JSON and bytea
column, scanned before the database is dropped), the worker processes' log files, the test
process's own logs during in-process syncs, the CLI's stdout and stderr, and every workflow
history on the Temporal server (payloads base64-decoded).

The first test plants a canary in each kind of haystack and proves the scanner finds it; the
second drives one more end-to-end run through the CLI (company, credential with the secret on
stdin, show, list, test, sync --wait, status, history, rejects, rejects --warnings) against a
worker process and a sandbox process serving a bad field (so the field warnings table is
scanned too), then asserts the whole scan of the session is clean.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import structlog
from temporalio.client import Client

from tests.reliability.support import (
    SANDBOX_TOKEN_PREFIX,
    ReliabilityReport,
    Scenario,
    SecretLedger,
    Stopwatch,
    capture_logs,
    database_leaks,
    history_text,
    run_cli,
    workflow_histories,
)
from tests.support.processes import SandboxServer, WorkerProcess, running, worker_environment

pytestmark = pytest.mark.reliability

TENANT = 4501


async def test_the_scanner_finds_a_planted_canary_everywhere(
    database_url: str, temporal_client: Client, tmp_path: Path, secret_ledger: SecretLedger
) -> None:
    canary = f"cs9.canary-{uuid.uuid4().hex}"
    needles = {canary: "the canary"}

    # A database column (JSON) and a bytea column.
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO audit_log (actor, action, details) VALUES ('test', 'canary', %s)",
            (json.dumps({"note": f"planted {canary}"}),),
        )
        connection.execute("CREATE TABLE canary_bytes (data bytea)")
        connection.execute("INSERT INTO canary_bytes VALUES (%s)", (canary.encode(),))
    found = database_leaks(database_url, needles)
    assert ("the canary", "audit_log.details") in found
    assert ("the canary", "canary_bytes.data") in found
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("DELETE FROM audit_log WHERE action = 'canary'")
        connection.execute("DROP TABLE canary_bytes")

    # A workflow history: the canary is only in a payload, base64-encoded on the wire.
    handle = await temporal_client.start_workflow(
        "CanaryWorkflow",
        {"secret": canary},
        id=f"canary-{uuid.uuid4().hex[:8]}",
        task_queue=f"canary-{uuid.uuid4().hex[:8]}",  # nobody polls it
    )
    try:
        raw, decoded = await history_text(handle)
    finally:
        await handle.terminate("canary planted and found")
    assert canary not in raw, "the payload was not encoded: this proves nothing about decoding"
    assert secret_ledger.leaks(decoded, needles) == ["the canary"]

    # A worker log file, the test process's own logs, a token in a line of text.
    log_file = tmp_path / "canary.log"
    log_file.write_text(f'{{"event": "oops", "secret": "{canary}"}}\n')
    assert secret_ledger.leaks(log_file.read_text(), needles) == ["the canary"]
    with capture_logs() as capture:
        logging.getLogger("canary").warning("stdlib says %s", canary)
        structlog.get_logger("canary").warning("structlog says", value=canary)
    assert capture.text().count(canary) == 2
    token = SANDBOX_TOKEN_PREFIX + "eyJjbGllbnRfaWQiOiJ4In0.c2ln"
    assert secret_ledger.leaks(f"Authorization: Bearer {token}") == ["a sandbox access token"]
    assert secret_ledger.leaks("client_secret=cs1.sandbox-1234") == ["a sandbox client secret"]


@pytest.mark.timeout(240)
async def test_no_secret_in_clear_in_logs_cli_output_histories_or_databases(
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    secret_ledger: SecretLedger,
    report: ReliabilityReport,
) -> None:
    watch = Stopwatch()
    sandbox = SandboxServer(tenants=f"{TENANT}:120:200", workdir=tmp_path, export_page_size=50)
    with running(sandbox):
        sandbox.start()
        # Bad fields, so the field warnings table holds rows for the scan too.
        bad_fields = {"tenant_id": TENANT, "kind": "invoices", "cases": ["over_long_text"]}
        sandbox.admin("POST", "bad-records", bad_fields)
        env = worker_environment(
            database_url=database_url,
            temporal_address=temporal_client.service_client.config.target_host,
            task_queue=f"secrets-{uuid.uuid4().hex[:8]}",
            sandbox_url=sandbox.url,
            encryption_keys=encryption_keys,
            data_dir=tmp_path,
        )
        secret = f"cs1.sandbox-{TENANT}"
        secret_ledger.add_secret(secret, f"the client secret of tenant {TENANT}")
        company = run_cli(
            [
                "companies",
                "add",
                "--name",
                "Secret Co",
                "--intacct-id",
                "SEC",
                "--trade",
                "HVAC",
                "--json",
            ],
            env,
            secret_ledger,
        )
        assert company.returncode == 0, company.stderr
        company_id = json.loads(company.stdout)["id"]
        added = run_cli(
            ["credentials", "add", "--company", str(company_id), "--tenant-id", str(TENANT),
             "--client-id", f"cid.sandbox-{TENANT}", "--environment", "production",
             "--client-secret-stdin", "--json"],
            env,
            secret_ledger,
            stdin=secret + "\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        credential = json.loads(added.stdout)["id"]
        with ThreadPoolExecutor(max_workers=4) as pool:
            shown = list(
                pool.map(
                    lambda args: run_cli(args, env, secret_ledger),
                    [
                        ["credentials", "show", str(credential)],
                        ["credentials", "show", str(credential), "--json"],
                        ["credentials", "list"],
                        ["credentials", "test", str(credential)],
                    ],
                )
            )
        assert all(r.returncode == 0 for r in shown), [r.stderr for r in shown]

        worker = WorkerProcess(env, tmp_path, name="secrets-worker")
        with running(worker):
            await asyncio.to_thread(worker.start)
            synced = await asyncio.to_thread(
                run_cli, ["sync", str(credential), "--wait", "--json"], env, secret_ledger,
                timeout=180,
            )  # fmt: skip
            assert synced.returncode == 0, synced.stderr
            assert json.loads(synced.stdout)["status"] == "completed", synced.stdout
            with ThreadPoolExecutor(max_workers=3) as pool:
                after = list(
                    pool.map(
                        lambda args: run_cli(args, env, secret_ledger),
                        [
                            ["status", str(credential)],
                            ["history", "--credential", str(credential)],
                            ["rejects", "--credential", str(credential), "--raw"],
                            ["rejects", "--warnings", "--credential", str(credential)],
                        ],
                    )
                )
            assert all(r.returncode == 0 for r in after), [r.stderr for r in after]
        for path in worker.log_paths:
            secret_ledger.add_file(path, f"log of {path.name}")

    # The token the worker used is in the database, encrypted only.
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT access_token, client_secret FROM servicetitan_credentials"
        ).fetchone()
        warned = connection.execute("SELECT count(*) FROM servicetitan_field_warnings").fetchone()
    assert row is not None and row[0] and row[1], "no token or secret stored: nothing to scan"
    assert warned is not None and warned[0] >= 1, "no field warnings stored: nothing to scan"

    histories = 0
    async for place, text in workflow_histories(temporal_client):
        secret_ledger.check_text(text, f"history {place}", kind="workflow history")
        histories += 1
    secret_ledger.check_database(database_url, "the secrets test")
    secret_ledger.check_files()

    scanned = secret_ledger.scanned
    summary = (
        f"{histories} workflow histories, {scanned['database']} databases "
        f"({scanned['database text cells']} text cells), {scanned['log file']} worker log files "
        f"({scanned['log file bytes'] // 1024} KiB), {scanned['log']} in-process log captures, "
        f"{scanned['cli output']} CLI outputs, {len(secret_ledger.needles)} needles: "
        + ("clean" if not secret_ledger.findings else f"{len(secret_ledger.findings)} LEAKS")
    )
    report.secret_scan = summary
    report.add(
        Scenario(
            "secrets: scan of the whole suite",
            injected="canary planted: found",
            seconds=watch.seconds,
        )
    )
    assert not secret_ledger.findings, secret_ledger.findings
    assert histories >= 2 and scanned["cli output"] >= 10 and scanned["log file"] >= 1
    assert scanned["database text cells"] > 0
