"""Onboarding: companies and their ServiceTitan credentials.

The client secret is never a command-line argument (it would land in shell history and in
every process list): it comes from a hidden prompt, or from standard input with
``--client-secret-stdin`` for scripts.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

import typer

from cli.context import CommandContext
from cli.output import console, emit_json, fail, table, when
from cli.runner import run_command
from db import credentials

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")

companies_app = typer.Typer(help="Contractor companies.", no_args_is_help=True)
credentials_app = typer.Typer(help="ServiceTitan credentials of companies.", no_args_is_help=True)


def read_secret(from_stdin: bool, prompt: str = "Client secret") -> str:
    """The secret from stdin (first line) or a hidden prompt; never echoed."""
    if from_stdin:
        secret = sys.stdin.readline().strip()
    else:
        if not sys.stdin.isatty():
            fail("no terminal to prompt for the client secret; pass --client-secret-stdin")
        secret = typer.prompt(prompt, hide_input=True).strip()
    if not secret:
        fail("the client secret is empty")
    return secret


@companies_app.command("add")
def companies_add(
    name: str = typer.Option(..., "--name", help="Company name."),
    intacct_id: str = typer.Option(..., "--intacct-id", help="Intacct id; `tenant` on rows."),
    trade: str = typer.Option(..., "--trade", help="Primary trade, e.g. Plumbing, HVAC."),
    json_output: bool = JSON,
) -> None:
    """Add a company and print its id."""

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            company_id = await credentials.add_company(
                connection, name=name, intacct_id=intacct_id, primary_trade=trade, actor=ctx.actor
            )
            company = await credentials.get_company(connection, company_id)
        if ctx.json_output:
            emit_json(asdict(company))
        else:
            console.print(company_id)

    run_command(json_output, body)


@companies_app.command("list")
def companies_list(json_output: bool = JSON) -> None:
    """List companies."""

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            rows = await credentials.list_companies(connection)
        if ctx.json_output:
            emit_json([asdict(row) for row in rows])
            return
        table(
            "Companies",
            ["id", "name", "intacct id", "trade"],
            [(c.id, c.name, c.intacct_id, c.primary_trade) for c in rows],
        )

    run_command(json_output, body)


@credentials_app.command("add")
def credentials_add(
    company: int = typer.Option(..., "--company", help="Company id."),
    tenant_id: str = typer.Option(..., "--tenant-id", help="ServiceTitan tenant id (numeric)."),
    client_id: str = typer.Option(..., "--client-id", help="Client id (cid.…) for this tenant."),
    environment: str = typer.Option(..., "--environment", help="production or integration."),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read the client secret from standard input."
    ),
    json_output: bool = JSON,
) -> None:
    """Add a company's ServiceTitan credential (the secret is prompted for, hidden)."""
    if environment not in ("production", "integration"):
        fail(f"--environment must be production or integration (got {environment!r})")
    if not tenant_id.isdigit():
        fail(f"--tenant-id must be ServiceTitan's numeric tenant id (got {tenant_id!r})")
    secret = read_secret(client_secret_stdin)

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            credential_id = await credentials.add_credential(
                connection,
                ctx.box,
                company_id=company,
                tenant_id=tenant_id,
                client_id=client_id,
                client_secret=secret,
                environment=environment,
                actor=ctx.actor,
            )
            info = await credentials.get_credential(connection, ctx.box, credential_id)
        if ctx.json_output:
            emit_json(asdict(info))
        else:
            console.print(credential_id)

    run_command(json_output, body)


@credentials_app.command("list")
def credentials_list(json_output: bool = JSON) -> None:
    """List credentials (client ids masked)."""

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            rows = await credentials.list_credentials(connection, ctx.box)
        if ctx.json_output:
            emit_json([asdict(row) for row in rows])
            return
        table(
            "ServiceTitan credentials",
            ["id", "company", "tenant", "environment", "client id", "status", "last sync"],
            [
                (
                    r.id,
                    f"{r.company_name} (#{r.company_id})",
                    r.tenant_id,
                    r.environment,
                    r.client_id_masked,
                    r.connection_status,
                    when(r.last_sync_at),
                )
                for r in rows
            ],
        )

    run_command(json_output, body)


@credentials_app.command("show")
def credentials_show(
    credential: int = typer.Argument(..., help="Credential id."), json_output: bool = JSON
) -> None:
    """Show one credential (client id masked, secret never shown)."""

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            info = await credentials.get_credential(connection, ctx.box, credential)
        if ctx.json_output:
            emit_json(asdict(info))
            return
        table(
            f"Credential {info.id}",
            ["field", "value"],
            [
                ("company", f"{info.company_name} (#{info.company_id}, {info.intacct_id})"),
                ("trade", info.primary_trade),
                ("tenant id", info.tenant_id),
                ("environment", info.environment),
                ("client id", info.client_id_masked),
                ("client secret", "(encrypted; never shown)"),
                ("connection status", info.connection_status),
                ("last error", info.last_error or ""),
                ("last sync", when(info.last_sync_at)),
                ("secret rotated", when(info.secret_rotated_at)),
                ("created", when(info.created_at)),
            ],
        )

    run_command(json_output, body)
