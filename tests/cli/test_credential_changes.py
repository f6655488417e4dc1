"""`credentials update` and `credentials delete` as an operator types them.

A new tenant or environment resets the credential's cursors (and says so); a new secret or
client id keeps them. Deleting a credential removes it and its schedule but keeps the history
of its company. No worker is needed: the history rows are written here as a sync would.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import Client

from tests.cli.conftest import Cli
from workflows.sync import workflow_id_for

SECRET = "cs1.sandbox-1001"
STREAMS = ("customers", "customer_contacts", "invoices")


def _cli(database_url: str, temporal_client: Client, encryption_keys: str, tmp: Path) -> Cli:
    return Cli(
        {
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": f"cli-{uuid.uuid4().hex[:8]}",
            "SERVICETITAN_APP_KEY": "ak1.sandbox",
            "CREDENTIAL_ENCRYPTION_KEYS": encryption_keys,
            "DATA_DIR": str(tmp),
        }
    )


def _onboard(cli: Cli) -> str:
    company = cli.json(
        "companies", "add", "--name", "Acme", "--intacct-id", "ACME-1", "--trade", "HVAC"
    )
    credential = cli.json(
        "credentials",
        "add",
        "--company",
        str(company["id"]),
        "--tenant-id",
        "1001",
        "--client-id",
        "cid.sandbox-1001",
        "--environment",
        "production",
        "--client-secret-stdin",
        stdin=SECRET + "\n",
    )
    return str(credential["id"])


def _sql(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _synced(url: str, credential: str) -> None:
    """What a completed sync leaves behind: a run, its import job, cursors, a reject, a hand-off."""
    (company,) = _sql(
        url, "SELECT company_id FROM servicetitan_credentials WHERE id = %s", credential
    )[0]
    ((job,),) = _sql(
        url,
        "INSERT INTO company_data_import_jobs (company_id, status, done) "
        "VALUES (%s, 'COMPLETED', true) RETURNING id",
        company,
    )
    ((log,),) = _sql(
        url,
        "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status, "
        "records_processed, completed_at, import_job_id, workflow_id) "
        "VALUES (%s, 'manual', 'both', 'completed', 42, now(), %s, %s) RETURNING id",
        credential,
        job,
        workflow_id_for(int(credential)),
    )
    _cursors(url, credential)
    _sql(
        url,
        "INSERT INTO servicetitan_rejected_records (credential_id, company_id, sync_log_id, "
        "stream, record_id, reason, raw) VALUES (%s, %s, %s, 'invoices', '7', 'no id', '{}')",
        credential,
        company,
        log,
    )
    _sql(
        url,
        "INSERT INTO servicetitan_dispatch_outbox (sync_log_id, company_id, credential_id, "
        "records_synced) VALUES (%s, %s, %s, 42)",
        log,
        company,
        credential,
    )


def _cursors(url: str, credential: str) -> None:
    for stream in STREAMS:
        _sql(
            url,
            "INSERT INTO servicetitan_sync_state (credential_id, stream, continue_from) "
            "VALUES (%s, %s, 'cursor-of-the-old-feed') ON CONFLICT DO NOTHING",
            credential,
            stream,
        )


def _cursor_count(url: str, credential: str) -> int:
    return int(
        _sql(
            url, "SELECT count(*) FROM servicetitan_sync_state WHERE credential_id = %s", credential
        )[0][0]
    )


def test_update_resets_cursors_on_a_new_tenant_or_environment_and_says_so(
    database_url: str, temporal_client: Client, encryption_keys: str, tmp_path: Path
) -> None:
    cli = _cli(database_url, temporal_client, encryption_keys, tmp_path)
    cid = _onboard(cli)
    _synced(database_url, cid)

    moved = cli.run("credentials", "update", cid, "--tenant-id", "1002")
    assert "cursors reset" in moved.stdout and "next sync is a full sync" in moved.stdout
    assert _cursor_count(database_url, cid) == 0
    ((details,),) = _sql(
        database_url,
        "SELECT details FROM audit_log WHERE action = 'credential.updated' ORDER BY id DESC",
    )[:1]
    assert details == {"changed": ["tenant_id"], "cursors_reset": True}

    _cursors(database_url, cid)
    switched = cli.json("credentials", "update", cid, "--environment", "integration")
    assert switched == {"id": int(cid), "changed": ["environment"], "cursors_reset": True}
    assert _cursor_count(database_url, cid) == 0
    shown = cli.json("credentials", "show", cid)
    assert (shown["tenant_id"], shown["environment"]) == ("1002", "integration")

    _cursors(database_url, cid)
    kept = cli.run("credentials", "update", cid, "--client-secret-stdin", stdin=SECRET + "\n")
    assert "cursors reset" not in kept.stdout
    assert _cursor_count(database_url, cid) == 3

    wrong = cli.run("credentials", "update", cid, "--environment", "staging", expect=None)
    assert wrong.returncode != 0 and "production or integration" in wrong.stderr
    assert SECRET not in "".join(cli.outputs)


async def test_a_tenant_change_is_refused_while_a_sync_runs(
    database_url: str, temporal_client: Client, encryption_keys: str, tmp_path: Path
) -> None:
    """A running sync would write the old tenant's positions back after the reset."""
    cli = _cli(database_url, temporal_client, encryption_keys, tmp_path)
    cid = _onboard(cli)
    _cursors(database_url, cid)
    handle = await temporal_client.start_workflow(
        "SyncWorkflow",
        id=workflow_id_for(int(cid)),
        task_queue=f"nobody-polls-{uuid.uuid4().hex[:8]}",
    )
    try:
        refused = cli.run("credentials", "update", cid, "--tenant-id", "1002", expect=1)
        assert "is running" in refused.stderr
        assert _cursor_count(database_url, cid) == 3
        assert cli.json("credentials", "show", cid)["tenant_id"] == "1001"
    finally:
        await handle.terminate("test cleanup")


def test_delete_keeps_the_history_and_removes_the_schedule(
    database_url: str, temporal_client: Client, encryption_keys: str, tmp_path: Path
) -> None:
    cli = _cli(database_url, temporal_client, encryption_keys, tmp_path)
    cid = _onboard(cli)
    _synced(database_url, cid)
    cli.json("schedule", "set", cid, "--every", "1h")

    deleted = cli.json("credentials", "delete", cid)
    assert deleted == {"id": int(cid), "deleted": True, "schedule_deleted": True}
    assert cli.json("schedule", "list") == []
    assert all(c["id"] != int(cid) for c in cli.json("credentials", "list"))
    missing = cli.run("credentials", "show", cid, expect=1)
    assert missing.stderr.strip() == f"error: no credential with id {cid}"

    for table in (
        "servicetitan_sync_logs",
        "servicetitan_rejected_records",
        "servicetitan_dispatch_outbox",
    ):
        rows = _sql(database_url, f"SELECT credential_id FROM {table}")  # noqa: S608
        assert rows == [(None,)], table
    assert _cursor_count(database_url, cid) == 0
    history = cli.json("history")
    assert [(h["credential_id"], h["records_processed"]) for h in history] == [(None, 42)]
    assert "42" in cli.run("history").stdout
    assert [r["record_id"] for r in cli.json("rejects")] == ["7"]
