"""`keys generate`, `keys rotate` and a configured CLI without keys, as an operator types them.

A cached access token no key opens is dropped and counted instead of aborting the rotation; a
client secret no key opens still stops it with nothing changed. A CLI pointed at a configured
database without CREDENTIAL_ENCRYPTION_KEYS refuses in one line and invents no key.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from temporalio.client import Client

from core.crypto import KeyRing, SecretBox
from db.database import Database
from db.token_store import DatabaseTokenStore
from servicetitan.tokens import AccessToken
from tests.cli.conftest import Cli

SECRET = "cs1.sandbox-1001"


def _cli(database_url: str, temporal_client: Client, keys: str | None, tmp: Path) -> Cli:
    env = {
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": f"cli-{uuid.uuid4().hex[:8]}",
        "SERVICETITAN_APP_KEY": "ak1.sandbox",
        "DATA_DIR": str(tmp),
    }
    if keys is not None:
        env["CREDENTIAL_ENCRYPTION_KEYS"] = keys
    return Cli(env)


def _onboard(cli: Cli, intacct: str) -> int:
    company = cli.json(
        "companies", "add", "--name", intacct, "--intacct-id", intacct, "--trade", "HVAC"
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
        "--client-secret-stdin",
        "--environment",
        "production",
        stdin=SECRET + "\n",
    )
    return int(credential["id"])


async def test_rotate_drops_unreadable_cached_tokens_and_reports_them(
    database: Database, database_url: str, temporal_client: Client, tmp_path: Path
) -> None:
    old_cli = _cli(database_url, temporal_client, None, tmp_path)
    old = old_cli.run("keys", "generate").stdout.strip()
    assert len(base64.urlsafe_b64decode(old)) == 32
    old_cli.env["CREDENTIAL_ENCRYPTION_KEYS"] = old
    first, second = _onboard(old_cli, "ALPHA"), _onboard(old_cli, "BRAVO")
    lost = old_cli.run("keys", "generate").stdout.strip()
    await DatabaseTokenStore(database, SecretBox(KeyRing.parse(lost))).save(
        second, AccessToken("opaque-token-nobody-opens", datetime.now(UTC) + timedelta(hours=1))
    )
    new = old_cli.run("keys", "generate").stdout.strip()
    rotating = _cli(database_url, temporal_client, f"{new},{old}", tmp_path)
    assert rotating.json("keys", "rotate") == {"values_rewritten": 4, "tokens_dropped": 1}
    text = rotating.run("keys", "rotate").stdout
    assert "re-encrypted 0 stored values" in text and "dropped" not in text
    with psycopg.connect(database_url) as connection:
        tokens = connection.execute(
            "SELECT id, access_token FROM servicetitan_credentials ORDER BY id"
        ).fetchall()
    assert tokens == [(first, None), (second, None)]
    new_only = _cli(database_url, temporal_client, new, tmp_path)
    assert new_only.json("credentials", "show", str(second))["client_id_masked"] == "cid.…1001"
    # A secret no key opens still stops the rotation, naming it, and changes nothing.
    stranger = _cli(database_url, temporal_client, f"{lost},{old}", tmp_path)
    refused = stranger.run("keys", "rotate", expect=1)
    assert f"client_id of credential {first}" in refused.stderr
    assert new_only.json("credentials", "show", str(first))["client_id_masked"] == "cid.…1001"
    for output in (*old_cli.outputs, *rotating.outputs, *new_only.outputs, *stranger.outputs):
        assert SECRET not in output and "opaque-token-nobody-opens" not in output


def test_a_configured_cli_without_keys_refuses_in_one_line(
    database_url: str, temporal_client: Client, tmp_path: Path
) -> None:
    cli = _cli(database_url, temporal_client, None, tmp_path)
    refused = cli.run("companies", "list", expect=1)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "CREDENTIAL_ENCRYPTION_KEYS" in lines[0] and "keys generate" in lines[0]
    assert list(tmp_path.iterdir()) == []
