"""Maintenance commands: database migrations, encryption keys, embedded services."""

from __future__ import annotations

import typer

from cli.context import CommandContext
from cli.output import console, emit_json
from cli.runner import run_command
from core.crypto import generate_key
from core.embedded.postgres import stop_embedded_postgres
from core.embedded.sandbox import stop_sandbox_server
from core.embedded.temporal import stop_temporal_dev_server
from core.infrastructure import resolve_database_url
from core.settings import get_settings
from db import credentials, migrate

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Credential encryption keys.", no_args_is_help=True)
embedded_app = typer.Typer(
    help="The embedded Temporal and PostgreSQL servers.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(json_output: bool = JSON) -> None:
    """Migrate the database to the schema this version needs."""

    async def body(ctx: CommandContext) -> None:
        target, _embedded = resolve_database_url(ctx.settings)
        before = migrate.current_revision(target)
        migrate.upgrade(target)
        after = migrate.current_revision(target)
        if ctx.json_output:
            emit_json({"from": before, "to": after})
        else:
            console.print(f"database schema: {before or 'empty'} → {after}")

    run_command(json_output, body)


@db_app.command("current")
def db_current(json_output: bool = JSON) -> None:
    """Show the database's schema revision and the one this version needs."""

    async def body(ctx: CommandContext) -> None:
        target, _embedded = resolve_database_url(ctx.settings)
        current, head = migrate.current_revision(target), migrate.head_revision()
        if ctx.json_output:
            emit_json({"current": current, "head": head, "up_to_date": current == head})
        else:
            state = "up to date" if current == head else "needs `starter.py db upgrade`"
            console.print(f"schema {current or 'empty'} (this version needs {head}): {state}")

    run_command(json_output, body)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new encryption key (put it first in CREDENTIAL_ENCRYPTION_KEYS)."""
    print(generate_key())


@keys_app.command("rotate")
def keys_rotate(json_output: bool = JSON) -> None:
    """Re-encrypt every stored secret with the newest key (the first one configured).

    Cached access tokens no key opens are dropped and counted; a client id or secret no key
    opens stops the rotation with nothing changed.
    """

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            result = await credentials.rotate_encryption(connection, ctx.box, actor=ctx.actor)
        if ctx.json_output:
            emit_json(
                {"values_rewritten": result.rewritten, "tokens_dropped": result.tokens_dropped}
            )
            return
        console.print(f"re-encrypted {result.rewritten} stored values with the newest key")
        if result.tokens_dropped:
            console.print(
                f"dropped {result.tokens_dropped} cached access tokens that no configured key "
                "opens (new ones are requested on the next sync)"
            )
        console.print("older keys can now be removed from CREDENTIAL_ENCRYPTION_KEYS")

    run_command(json_output, body)


@embedded_app.command("stop")
def embedded_stop() -> None:
    """Stop the embedded Temporal server, PostgreSQL and sandbox started under DATA_DIR."""
    settings = get_settings()
    stopped = {
        "ServiceTitan sandbox": stop_sandbox_server(settings.data_dir),
        "Temporal dev server": stop_temporal_dev_server(settings.data_dir),
        "PostgreSQL": stop_embedded_postgres(settings.data_dir),
    }
    console.print(
        "; ".join(
            f"{name}: {'stopped' if done else 'not running'}" for name, done in stopped.items()
        )
    )
