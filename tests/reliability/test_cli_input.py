"""Bad CLI input: an unknown credential or company, bad dates, bad environment names, bad
intervals, an unreachable database or a malformed Temporal address. Each gives exactly one
readable line on stderr (no traceback, nothing secret) and a non-zero exit code.

``starter.py`` runs as a real subprocess, as an operator runs it; the commands that need
Temporal get the session's server.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio.client import Client

from db.database import Database
from sandbox.config import TenantSpec
from tests.reliability.support import (
    ReliabilityReport,
    Scenario,
    SecretLedger,
    Stopwatch,
    add_credential,
    run_cli,
    scalar,
)

pytestmark = pytest.mark.reliability

TENANT = 4601
SECRET = f"cs1.sandbox-{TENANT}"


def _cases(company: int, credential: int) -> list[tuple[str, list[str], str | None, dict]]:
    """(what, arguments, stdin, environment overrides)."""
    add = ["credentials", "add", "--tenant-id", str(TENANT), "--client-id", "cid.x"]
    secret = SECRET + "\n"
    return [
        ("unknown credential", ["credentials", "show", "999"], None, {}),
        (
            "bad environment name",
            [*add, "--company", str(company), "--environment", "staging", "--client-secret-stdin"],
            secret,
            {},
        ),
        (
            "environment name with markup",
            [
                *add,
                "--company",
                str(company),
                "--environment",
                "[/staging]",
                "--client-secret-stdin",
            ],
            secret,
            {},
        ),
        (
            "unknown company",
            [*add, "--company", "999", "--environment", "production", "--client-secret-stdin"],
            secret,
            {},
        ),
        (
            "tenant id not numeric",
            [
                "credentials",
                "add",
                "--company",
                str(company),
                "--tenant-id",
                "acme",
                "--client-id",
                "cid.x",
                "--environment",
                "production",
                "--client-secret-stdin",
            ],
            secret,
            {},
        ),
        ("sync: unknown credential", ["sync", "999"], None, {}),
        ("sync: date not a date", ["sync", str(credential), "--from", "not-a-date"], None, {}),
        ("sync: impossible date", ["sync", str(credential), "--from", "2024-02-30"], None, {}),
        ("sync: bad data type", ["sync", str(credential), "--data-type", "everything"], None, {}),
        ("status: unknown credential", ["status", "999"], None, {}),
        (
            "schedule: bad interval",
            ["schedule", "set", str(credential), "--every", "5 fortnights"],
            None,
            {},
        ),
        (
            "database unreachable",
            ["sync", str(credential)],
            None,
            {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"},
        ),
        (
            "malformed Temporal address",
            ["sync", str(credential)],
            None,
            {"TEMPORAL_ADDRESS": "not-an-address"},
        ),
    ]


def _one_line(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


async def test_bad_cli_input_gives_one_readable_line_and_a_non_zero_exit(
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    secret_ledger: SecretLedger,
    report: ReliabilityReport,
) -> None:
    watch = Stopwatch()
    company, credential = await add_credential(
        database,
        encryption_keys,
        TenantSpec.make(TENANT, 10, 10),
        company="CLI Co",
        intacct_id="CLI",
    )
    secret_ledger.add_secret(SECRET, f"the client secret of tenant {TENANT}")
    env = {
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": f"cli-{uuid.uuid4().hex[:8]}",  # nobody polls: nothing may run
        "CREDENTIAL_ENCRYPTION_KEYS": encryption_keys,
        "SERVICETITAN_APP_KEY": "ak1.sandbox",
        "DATA_DIR": str(tmp_path),
    }
    cases = _cases(company, credential)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(
                lambda case: run_cli(case[1], {**env, **case[3]}, secret_ledger, stdin=case[2]),
                cases,
            )
        )
    problems = []
    for (what, _args, _stdin, _env), result in zip(cases, results, strict=True):
        lines = _one_line(result.stderr)
        if result.returncode == 0:
            problems.append(f"{what}: exit code 0")
        if len(lines) != 1 or "Traceback" in result.stderr:
            problems.append(f"{what}: stderr is not one line: {result.stderr!r}")
        elif not lines[0].startswith("error: ") or len(lines[0]) < 20:
            problems.append(f"{what}: unreadable error line {lines[0]!r}")
    report.add(
        Scenario(
            "cli: bad input",
            injected=f"{len(cases)} bad commands",
            seconds=watch.seconds,
            note=f"{len(cases) - len(problems)} of {len(cases)} gave one error line and exit != 0",
        )
    )
    assert not problems, "\n".join(problems)
    # Nothing was started or written by the refused commands.
    assert scalar(database_url, "SELECT count(*) FROM servicetitan_sync_logs") == 0
    assert scalar(database_url, "SELECT count(*) FROM servicetitan_credentials") == 1
