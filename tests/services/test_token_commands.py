"""``starter.py tokens create|list|revoke``: the token is printed once, then only described."""

from __future__ import annotations

import asyncio
from pathlib import Path

from db.database import Database
from services import tokens
from tests.cli.conftest import Cli


def test_create_list_revoke(database_url: str, encryption_keys: str, tmp_path: Path) -> None:
    cli = Cli(
        {
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": "127.0.0.1:1",  # token commands never need Temporal
            "CREDENTIAL_ENCRYPTION_KEYS": encryption_keys,
            "DATA_DIR": str(tmp_path),
        }
    )
    company = cli.json("companies", "add", "--name", "A", "--intacct-id", "A-1", "--trade", "HVAC")
    issued = cli.json(
        "tokens", "create", "--name", "portal", "--role", "company_user",
        "--company", str(company["id"]), "--expires", "90d",
    )  # fmt: skip
    assert issued["token"].startswith("sts_") and isinstance(issued["id"], int)

    listed = cli.run("tokens", "list", "--json").stdout
    assert issued["token"] not in listed
    (row,) = cli.json("tokens", "list")
    assert (row["name"], row["role"], row["company_ids"]) == (
        "portal",
        "company_user",
        [company["id"]],
    )
    assert row["expires_at"] is not None and row["revoked_at"] is None

    async def authenticate() -> object:
        database = Database(database_url, pool_size=1)
        try:
            return await tokens.authenticate_token(database, issued["token"])
        finally:
            await database.close()

    assert asyncio.run(authenticate()) is not None
    assert cli.json("tokens", "revoke", str(issued["id"]))["revoked_at"] is not None
    assert asyncio.run(authenticate()) is None

    refused = cli.run("tokens", "create", "--name", "x", "--role", "company_user", expect=1)
    assert "needs at least one company" in refused.stderr
    missing = cli.run("tokens", "revoke", "999", expect=1)
    assert missing.stderr.strip() == "error: no API token with id 999"
