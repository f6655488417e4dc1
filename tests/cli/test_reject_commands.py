"""`rejects`, `rejects --warnings` and `rejects replay` as an operator types them (issue 21).

The quarantine is filled here as an older sync would have left it: one invoice rejected for
.NET's "no date" (which now lands, with the due date NULL) and one with a non-numeric total
(still a reject), plus a field warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.client import Client

from tests.cli.test_credential_changes import _cli, _onboard, _sql
from tests.records.conftest import INVOICE


def _quarantine(url: str, credential: str) -> None:
    (company,) = _sql(
        url, "SELECT company_id FROM servicetitan_credentials WHERE id = %s", credential
    )[0]
    ((log,),) = _sql(
        url,
        "INSERT INTO servicetitan_sync_logs (credential_id, sync_type, data_type, status) "
        "VALUES (%s, 'manual', 'both', 'completed') RETURNING id",
        credential,
    )
    rejects: list[tuple[str, str, dict[str, Any]]] = [
        ("501", "due_date: year 1 outside 1900-2200", {**INVOICE, "id": 501,
                                                       "dueDate": "0001-01-01T00:00:00Z"}),
        ("502", "total: not a number ('abc')", {**INVOICE, "id": 502, "total": "abc"}),
    ]  # fmt: skip
    for record_id, reason, raw in rejects:
        _sql(
            url,
            "INSERT INTO servicetitan_rejected_records (credential_id, company_id, sync_log_id, "
            "stream, record_id, reason, raw) VALUES (%s, %s, %s, 'invoices', %s, %s, %s)",
            credential, company, log, record_id, reason, json.dumps(raw),
        )  # fmt: skip
    _sql(
        url,
        "INSERT INTO servicetitan_field_warnings (credential_id, company_id, sync_log_id, stream, "
        "record_id, column_name, value_prefix, reason) "
        "VALUES (%s, %s, %s, 'customers', '77', 'customer_zip', '9999999999...', "
        "'400 characters, limit 20')",
        credential, company, log,
    )  # fmt: skip


def test_list_warnings_replay_and_resolved_rejects(
    database_url: str, temporal_client: Client, encryption_keys: str, tmp_path: Path
) -> None:
    cli = _cli(database_url, temporal_client, encryption_keys, tmp_path)
    cid = _onboard(cli)
    _quarantine(database_url, cid)

    assert [r["record_id"] for r in cli.json("rejects", "--credential", cid)] == ["502", "501"]
    assert [r["record_id"] for r in cli.json("rejects", "--reason", "NOT A NUMBER")] == ["502"]
    assert cli.json("rejects", "--stream", "customers") == []
    warnings = cli.json("rejects", "--warnings", "--credential", cid)
    assert [(w["record_id"], w["column"], w["value"]) for w in warnings] == [
        ("77", "customer_zip", "9999999999...")
    ]
    assert cli.json("rejects", "--warnings", "--stream", "invoices") == []
    assert "customer_zip" in cli.run("rejects", "--warnings").stdout
    wrong = cli.run("rejects", "--stream", "orders", expect=1)
    assert "--stream must be one of" in wrong.stderr

    dry = cli.json("rejects", "replay", "--dry-run")
    assert (dry["examined"], dry["landed"], dry["dry_run"]) == (2, 1, True)
    assert _sql(database_url, "SELECT count(*) FROM invoices_stream") == [(0,)]

    replayed = cli.json("rejects", "replay", "--credential", cid, "--stream", "invoices")
    assert (replayed["examined"], replayed["landed"], replayed["inserted"]) == (2, 1, 1)
    assert _sql(database_url, "SELECT invoice_number, due_date FROM invoices_stream") == [
        ("501", None)
    ]
    assert [r["record_id"] for r in cli.json("rejects")] == ["502"]
    assert [r["record_id"] for r in cli.json("rejects", "--all")] == ["502", "501"]
    (resolved,) = cli.json("rejects", "--resolved")
    assert resolved["record_id"] == "501" and resolved["resolved_by"].startswith("cli:")
    assert "501" in cli.run("rejects", "--all").stdout

    again = cli.run("rejects", "replay")
    assert "1 unresolved rejects examined: 0 landed, 1 still rejected" in again.stdout
    audits = _sql(database_url, "SELECT count(*) FROM audit_log WHERE action = 'rejects.replay'")
    assert audits == [(2,)]
    cli.run("rejects", "--all", "--resolved", expect=1)
