"""Bulk operations, the audit trail and the outbox through ``starter.py``, end to end.

A real worker and sandbox; three companies whose credentials are onboarded from one CSV: two
good tenants and one whose client id ServiceTitan does not know. Steps run in order and share
the class-scoped ``fleet`` (a failed step skips the rest, tests/cli/conftest.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client

from tests.cli.conftest import Cli, operator_world

GOOD, ALSO_GOOD = 4101, 4102
SECRETS = {"cid.sandbox-4101": "cs1.sandbox-4101", "cid.sandbox-4102": "cs1.sandbox-4102"}
WRONG_SECRET = "cs1.not-a-real-secret"


@dataclass
class Fleet:
    cli: Cli
    database_url: str
    workdir: Path
    companies: dict[str, int] = field(default_factory=dict)  # intacct id → company id
    credentials: dict[str, int] = field(default_factory=dict)  # intacct id → credential id

    def sql(self, statement: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def write(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.workdir / name
        path.write_text(text)
        os.chmod(path, mode)
        return path


@pytest.fixture(scope="class")
def fleet(
    postgres_server_url: str,
    template_database: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    tmp_path: Path = tmp_path_factory.mktemp("fleet")
    with operator_world(
        postgres_server_url=postgres_server_url,
        template_database=template_database,
        temporal_client=temporal_client,
        encryption_keys=encryption_keys,
        workdir=tmp_path,
        tenants=f"{GOOD}:30:60,{ALSO_GOOD}:20:40",
        export_page_size=25,
        queue_prefix="fleet",
        ALERT_STALE_AFTER_SECONDS="86400",
    ) as world:
        made = Fleet(world.cli, world.database_url, tmp_path)
        try:
            yield made
        finally:
            # Schedules live in the session's shared Temporal namespace, named by
            # credential id: other tests' databases reuse these ids.
            for credential_id in made.credentials.values():
                made.cli.run("schedule", "delete", str(credential_id), expect=None)


def _csv(rows: Sequence[tuple[str, object, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["company", "tenant", "client id", "environment"])
    writer.writerows(rows)
    return out.getvalue()


ROWS = [
    ("ACME-1", GOOD, "cid.sandbox-4101", "production"),
    ("BOLT-1", ALSO_GOOD, "cid.sandbox-4102", "production"),
    ("CRUX-1", ALSO_GOOD, "cid.unknown-4102", "integration"),
]


def _lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("credential ")]


@pytest.mark.slow
@pytest.mark.incremental
class TestFleet:
    def test_three_companies(self, fleet: Fleet) -> None:
        for name, intacct in (("Acme", "ACME-1"), ("Bolt", "BOLT-1"), ("Crux", "CRUX-1")):
            company = fleet.cli.json(
                "companies", "add", "--name", name, "--intacct-id", intacct, "--trade", "HVAC"
            )
            fleet.companies[intacct] = company["id"]

    def test_an_import_with_a_bad_row_creates_nothing(self, fleet: Fleet) -> None:
        bad = fleet.write("bad.csv", _csv([*ROWS, ("ACME-1", "12a", "cid.x", "production")]))
        secrets = fleet.write("secrets", "".join(f"{k},{v}\n" for k, v in SECRETS.items()))
        refused = fleet.cli.run(
            "credentials", "import", str(bad), "--secrets", str(secrets), expect=1
        )
        assert "line 5: tenant must be ServiceTitan's numeric tenant id (got '12a')" in (
            refused.stderr
        )
        assert "line 5: line 2 already adds the production credential" in refused.stderr
        assert "line 4: no client secret for client id 'cid.unknown-4102'" in refused.stderr
        assert "nothing was imported" in refused.stderr
        assert fleet.cli.json("credentials", "list") == []

    def test_a_secrets_file_others_can_read_is_refused(self, fleet: Fleet) -> None:
        good = fleet.write("good.csv", _csv(ROWS), mode=0o644)  # the CSV holds no secret
        secrets = fleet.write("open-secrets", "cid.sandbox-4101,x\n", mode=0o644)
        refused = fleet.cli.run(
            "credentials", "import", str(good), "--secrets", str(secrets), expect=1
        )
        assert "readable by others (mode 644)" in refused.stderr
        assert fleet.cli.json("credentials", "list") == []

    def test_the_import_creates_all_then_tests_each(self, fleet: Fleet) -> None:
        good = fleet.workdir / "good.csv"
        stdin = "".join(f"{k},{v}\n" for k, v in SECRETS.items())
        stdin += f"cid.unknown-4102,{WRONG_SECRET}\n"
        done = fleet.cli.run(
            "credentials", "import", str(good), "--secrets-stdin", "--json", stdin=stdin, expect=3
        )
        report = json.loads(done.stdout)
        assert report["imported"] is True and report["problems"] == []
        verdicts = {r["line"]: (r["verdict"], r["connected"]) for r in report["results"]}
        assert verdicts[2] == ("connected", True) and verdicts[3] == ("connected", True)
        assert verdicts[4][1] is False
        by_company = {r["company_id"]: r["credential_id"] for r in report["results"]}
        for intacct, company_id in fleet.companies.items():
            fleet.credentials[intacct] = by_company[company_id]
        listed = fleet.cli.json("credentials", "list")
        assert sorted(c["connection_status"] for c in listed) == ["connected", "connected", "error"]

    def test_sync_all_reports_each_credential_and_fails_when_one_fails(self, fleet: Fleet) -> None:
        # Acme's sync must get a token of its own (the worker's issuance is audited too).
        fleet.sql(
            "UPDATE servicetitan_credentials SET access_token = NULL, token_expires_at = NULL "
            "WHERE id = %s",
            fleet.credentials["ACME-1"],
        )
        synced = fleet.cli.run("sync", "--all", "--concurrency", "2", expect=1)
        lines = _lines(synced.stdout)
        assert len(lines) == 3, synced.stdout
        acme, bolt, crux = (fleet.credentials[i] for i in ("ACME-1", "BOLT-1", "CRUX-1"))
        assert any(f"credential {acme} " in x and ": completed — " in x for x in lines)
        assert any(f"credential {bolt} " in x and ": completed — " in x for x in lines)
        assert any(f"credential {crux} " in x and ": failed — " in x for x in lines)
        assert "3 credentials: 2 completed, 1 failed" in synced.stdout
        assert fleet.sql("SELECT count(*) FROM invoices_stream") == [(100,)]

    def test_filters_choose_the_credentials(self, fleet: Fleet) -> None:
        production = fleet.cli.json("sync", "--all", "--environment", "production")
        assert sorted(r["credential_id"] for r in production["results"]) == sorted(
            [fleet.credentials["ACME-1"], fleet.credentials["BOLT-1"]]
        )
        assert production["failed"] == 0 and production["counts"] == {"completed": 2}
        crux = fleet.cli.run(
            "sync", "--all", "--company", str(fleet.companies["CRUX-1"]), "--json", expect=1
        )
        (only,) = json.loads(crux.stdout)["results"]
        assert only["credential_id"] == fleet.credentials["CRUX-1"] and only["result"] == "failed"
        assert only["detail"]  # the readable reason

    def test_stale_picks_the_credentials_alerts_calls_stale(self, fleet: Fleet) -> None:
        # Acme last succeeded two days ago, Crux never did in two days; Bolt is fresh.
        acme = fleet.credentials["ACME-1"]
        fleet.sql("UPDATE servicetitan_credentials SET created_at = now() - interval '2 days'")
        fleet.sql(
            "UPDATE servicetitan_sync_logs SET completed_at = now() - interval '2 days' "
            "WHERE credential_id = %s",
            acme,
        )
        nothing = fleet.cli.json("sync", "--all", "--stale", "--company", "999999")
        assert nothing["results"] == []
        stale = fleet.cli.json("sync", "--all", "--stale", "--environment", "production")
        assert [r["credential_id"] for r in stale["results"]] == [acme]

    def test_schedule_set_all(self, fleet: Fleet) -> None:
        made = fleet.cli.json(
            "schedule", "set", "--all", "--every", "1h", "--environment", "production"
        )
        assert made["counts"] == {"created": 2}
        again = fleet.cli.run("schedule", "set", "--all", "--every", "2h")
        assert "3 credentials: 1 created, 2 updated" in again.stdout
        specs = {s["credential_id"]: s["spec"] for s in fleet.cli.json("schedule", "list")}
        assert specs == {c: "every 2h, jitter 1m" for c in fleet.credentials.values()}
        wrong = fleet.cli.run("schedule", "set", "--all", "--every", "soon", expect=1)
        assert "not a duration" in wrong.stderr

    def test_the_audit_trail_tells_the_story(self, fleet: Fleet) -> None:
        acme, crux = fleet.credentials["ACME-1"], fleet.credentials["CRUX-1"]
        trail = fleet.cli.json("audit", "--credential", str(acme), "--limit", "200")
        actions = {entry["action"] for entry in trail}
        assert {
            "credential.created",
            "credential.tested",
            "token.issued",
            "sync.requested",
            "sync.started",
            "sync.completed",
            "schedule.set",
        } <= actions
        issued = [e for e in trail if e["action"] == "token.issued"]
        assert {e["company_id"] for e in issued} == {fleet.companies["ACME-1"]}
        by_worker = [e for e in issued if e["actor"].startswith("worker:")]
        assert by_worker and "expires_at" in by_worker[0]["details"]
        assert [e["details"] for e in issued if e["actor"].startswith("cli:")] == [
            {"by": "connection test"}
        ]
        failed = fleet.cli.json("audit", "--credential", str(crux), "--action", "token.failed")
        actors = {e["actor"].split(":")[0] for e in failed}
        assert actors == {"cli", "worker"}  # the connection test, and each failed sync
        assert all("invalid_client" in e["details"]["reason"] for e in failed), failed
        syncs = fleet.cli.json("audit", "--action", "sync.", "--since", "1h", "--limit", "200")
        assert {"sync.failed", "sync.completed"} <= {e["action"] for e in syncs}
        company = fleet.cli.json("audit", "--company", str(fleet.companies["BOLT-1"]))
        assert {e["company_id"] for e in company} == {fleet.companies["BOLT-1"]}
        human = fleet.cli.run("audit", "--credential", str(crux)).stdout
        assert "token.failed" in human

    def test_the_outbox_is_listed_and_acknowledged(self, fleet: Fleet) -> None:
        pending = fleet.cli.json("outbox", "list")
        synced = {fleet.credentials["ACME-1"], fleet.credentials["BOLT-1"]}
        assert {row["credential_id"] for row in pending} == synced
        assert all(row["status"] == "pending" and row["records_synced"] > 0 for row in pending)
        first, last = pending[0]["id"], pending[-1]["id"]
        assert fleet.cli.json("outbox", "ack", str(first)) == {
            "acknowledged": [first],
            "already": [],
        }
        assert (
            "already acknowledged: " + str(first)
            in fleet.cli.run("outbox", "ack", str(first)).stdout
        )
        missing = fleet.cli.run("outbox", "ack", str(last), str(last + 1000), expect=1)
        assert f"no outbox row with id {last + 1000}" in missing.stderr
        fleet.cli.json("outbox", "ack", "--through", str(last))
        assert fleet.cli.json("outbox", "list") == []
        acked = fleet.cli.json("outbox", "list", "--status", "acknowledged")
        assert [row["id"] for row in acked] == [row["id"] for row in pending]
        assert all(row["acknowledged_by"] for row in acked)

    def test_no_output_showed_a_secret(self, fleet: Fleet) -> None:
        secrets = [*SECRETS.values(), WRONG_SECRET]
        leaks = [s for s in secrets for output in fleet.cli.outputs if s in output]
        assert len(fleet.cli.outputs) > 30 and leaks == []
        stored = fleet.sql("SELECT details::text FROM audit_log")
        assert not [row for row in stored for s in secrets if s in str(row[0])]
