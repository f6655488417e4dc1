"""HTTP API tokens: ``tokens create|list|revoke`` (the operator issues them; the API checks them).

A token is printed once, at creation; only its hash is stored, so a lost token is revoked and
a new one issued.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import typer

from cli.context import CommandContext
from cli.output import console, emit_json, fail, table, when
from cli.runner import run_command
from runtime.schedules import parse_duration
from services import tokens
from services.identity import Role

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
ROLES = ", ".join(role.value for role in Role)

COMPANY = typer.Option([], "--company", help="A company it acts for (repeat; not for admin).")

tokens_app = typer.Typer(help="Tokens for the HTTP API.", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Option(..., "--name", help="What the token is for (shown in the audit)."),
    role: str = typer.Option(..., "--role", help=f"One of {ROLES}."),
    company: list[int] = COMPANY,
    expires: str | None = typer.Option(
        None, "--expires", help="Lifetime, e.g. 90d or 12h. Unset: until revoked."
    ),
    json_output: bool = JSON,
) -> None:
    """Issue a token and print it once."""
    try:
        lifetime = parse_duration(expires) if expires else None
    except ValueError as error:
        fail(f"--expires: {error}")

    async def body(ctx: CommandContext) -> None:
        issued = await tokens.create_token(
            ctx.database,
            ctx.principal,
            name=name,
            role=role,
            company_ids=company,
            expires_in=lifetime,
        )
        # Written past the scrubbing console on purpose: the token is now a registered secret
        # (every other output hides it), and this is the one place it must be shown.
        if ctx.json_output:
            sys.stdout.write(json.dumps({"id": issued.id, "token": issued.token}) + "\n")
        else:
            sys.stdout.write(f"token {issued.id}: {issued.token}\n")
            console.print("store it now: it is not shown again (only its hash is kept)")
        sys.stdout.flush()

    run_command(json_output, body)


@tokens_app.command("list")
def tokens_list(json_output: bool = JSON) -> None:
    """Issued tokens (never their text): role, companies, expiry, revocation, last use."""

    async def body(ctx: CommandContext) -> None:
        rows = await tokens.list_tokens(ctx.database, ctx.principal)
        if ctx.json_output:
            emit_json([asdict(row) for row in rows])
            return
        table(
            "API tokens",
            ["id", "name", "role", "companies", "created", "expires", "revoked", "last used"],
            [
                (
                    r.id,
                    r.name,
                    r.role,
                    ", ".join(str(c) for c in r.company_ids) or "all",
                    when(r.created_at),
                    when(r.expires_at) if r.expires_at else "-",
                    when(r.revoked_at) if r.revoked_at else "-",
                    when(r.last_used_at),
                )
                for r in rows
            ],
        )

    run_command(json_output, body)


@tokens_app.command("revoke")
def tokens_revoke(
    token: int = typer.Argument(..., help="Token id (from `tokens list`)."),
    json_output: bool = JSON,
) -> None:
    """Revoke a token at once."""

    async def body(ctx: CommandContext) -> None:
        row = await tokens.revoke_token(ctx.database, ctx.principal, token)
        if ctx.json_output:
            emit_json({"id": row.id, "revoked_at": row.revoked_at})
        else:
            console.print(f"revoked token {row.id} ({row.name})")

    run_command(json_output, body)
