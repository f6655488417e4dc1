"""Onboarding: companies and their ServiceTitan credentials.

The client secret is never a command-line argument (it would land in shell history and in
every process list): it comes from a hidden prompt, or from standard input with
``--client-secret-stdin`` for scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import asdict

import typer

from cli.context import CommandContext
from cli.output import console, emit_json, fail, table, when
from cli.runner import run_command
from db import credentials
from db.token_store import DatabaseTokenStore
from runtime import schedules
from runtime.servicetitan import client_config
from runtime.sync_control import running_sync
from servicetitan.client import ServiceTitanClient
from servicetitan.config import Credentials
from servicetitan.http import close_shared_http_client

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


@credentials_app.command("update")
def credentials_update(
    credential: int = typer.Argument(..., help="Credential id."),
    tenant_id: str | None = typer.Option(None, "--tenant-id", help="New tenant id."),
    environment: str | None = typer.Option(
        None, "--environment", help="New environment: production or integration."
    ),
    client_id: str | None = typer.Option(None, "--client-id", help="New client id."),
    rotate_secret: bool = typer.Option(
        False, "--rotate-secret", help="Replace the client secret (hidden prompt)."
    ),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read the new client secret from standard input."
    ),
    json_output: bool = JSON,
) -> None:
    """Change a credential in place; its sync history and schedule stay.

    A new tenant or environment resets its cursors, so its next sync is a full sync; that
    change is refused while a sync of the credential runs.
    """
    if tenant_id is not None and not tenant_id.isdigit():
        fail(f"--tenant-id must be ServiceTitan's numeric tenant id (got {tenant_id!r})")
    if environment is not None and environment not in ("production", "integration"):
        fail(f"--environment must be production or integration (got {environment!r})")
    secret = (
        read_secret(client_secret_stdin, "New client secret")
        if (rotate_secret or client_secret_stdin)
        else None
    )

    async def body(ctx: CommandContext) -> None:
        if tenant_id is not None or environment is not None:
            # A running sync would store the old feed's positions again after the reset.
            handle = await running_sync(await ctx.temporal(), credential)
            if handle is not None:
                fail(
                    f"a sync of credential {credential} is running ({handle.id}); wait for it "
                    "or cancel it before changing its tenant or environment"
                )
        async with ctx.transaction() as connection:
            change = await credentials.update_credential(
                connection,
                ctx.box,
                credential,
                actor=ctx.actor,
                tenant_id=tenant_id,
                environment=environment,
                client_id=client_id,
                client_secret=secret,
            )
        if ctx.json_output:
            emit_json(
                {"id": credential, "changed": change.changed, "cursors_reset": change.cursors_reset}
            )
            return
        console.print(
            f"credential {credential}: updated {', '.join(change.changed)}; "
            "run `credentials test` to check the new values"
        )
        if change.cursors_reset:
            console.print(
                "cursors reset: the tenant or environment changed, so the next sync is a full "
                "sync of the new feed"
            )

    run_command(json_output, body)


@credentials_app.command("delete")
def credentials_delete(
    credential: int = typer.Argument(..., help="Credential id."),
    force: bool = typer.Option(False, "--force", help="Cancel a running sync first."),
    json_output: bool = JSON,
) -> None:
    """Delete a credential, its secrets and its schedule (refused while a sync runs, unless
    --force). Its sync history, rejects and hand-offs stay, no longer linked to it."""

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            await credentials.get_credential(connection, ctx.box, credential)
        client = await ctx.temporal()
        handle = await running_sync(client, credential)
        if handle is not None:
            if not force:
                fail(
                    f"a sync of credential {credential} is running ({handle.id}); wait for it, "
                    "or pass --force to cancel it"
                )
            await handle.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handle.result(), timeout=60)
        schedule = await schedules.find(client, credential)
        if schedule is not None:
            await schedule.delete()
        async with ctx.transaction() as connection:
            await credentials.delete_credential(connection, credential, actor=ctx.actor)
        if ctx.json_output:
            emit_json({"id": credential, "deleted": True, "schedule_deleted": schedule is not None})
        else:
            extra = " and its schedule" if schedule is not None else ""
            console.print(f"deleted credential {credential}{extra}")

    run_command(json_output, body)


@credentials_app.command("test")
def credentials_test(
    credential: int = typer.Argument(..., help="Credential id."), json_output: bool = JSON
) -> None:
    """Request a token and make one API call; records the connection status."""

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            context = await credentials.credential_context(connection, credential)
            secrets = await credentials.load_secrets(connection, ctx.box, credential)
        client = ServiceTitanClient(
            Credentials(
                credential_id=credential,
                tenant_id=int(context.tenant_id),
                environment="production" if context.environment == "production" else "integration",
                client_id=secrets.client_id,
                client_secret=secrets.client_secret,
            ),
            client_config(ctx.settings),
            DatabaseTokenStore(ctx.database, ctx.box),
        )
        try:
            check = await client.validate_credentials()
        finally:
            await close_shared_http_client()
        async with ctx.transaction() as connection:
            await credentials.record_connection_test(
                connection, credential, verdict=check.verdict, reason=check.reason, actor=ctx.actor
            )
        if ctx.json_output:
            emit_json(
                {
                    "id": credential,
                    "verdict": check.verdict,
                    "reason": check.reason,
                    "token_expires_at": check.token_expires_at,
                }
            )
        else:
            colour = "green" if check.connected else "red"
            console.print(f"[bold {colour}]{check.verdict}[/]: {check.reason}")
        if not check.connected:
            raise typer.Exit(1)

    run_command(json_output, body)


def _switch(
    *,
    credential: int | None,
    company: int | None,
    enabled: bool,
    reason: str | None,
    json_output: bool,
) -> None:
    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            await credentials.set_sync_enabled(
                connection,
                credential_id=credential,
                company_id=company,
                enabled=enabled,
                reason=reason,
                actor=ctx.actor,
            )
            ids = (
                [credential]
                if credential is not None
                else await credentials.credential_ids_of_company(connection, company or 0)
            )
        client = await ctx.temporal()
        paused = []
        for credential_id in ids:
            schedule = await schedules.find(client, credential_id)
            if schedule is None:
                continue
            note = f"{'enabled' if enabled else 'disabled'} by {ctx.actor}"
            if enabled:
                await schedule.unpause(note=note)
            else:
                await schedule.pause(note=note + (f": {reason}" if reason else ""))
            paused.append(schedule.id)
        running = [i for i in ids if await running_sync(client, i) is not None]
        what = f"credential {credential}" if credential is not None else f"company {company}"
        if ctx.json_output:
            emit_json(
                {
                    "scope": "credential" if credential is not None else "company",
                    "id": credential if credential is not None else company,
                    "enabled": enabled,
                    "schedules": paused,
                    "running_syncs": running,
                }
            )
            return
        console.print(f"{what} {'enabled' if enabled else 'disabled'}")
        if paused:
            console.print(f"schedules {'resumed' if enabled else 'paused'}: {', '.join(paused)}")
        if running and not enabled:
            console.print(
                f"running syncs of credentials {running} stop at their next page boundary"
            )

    run_command(json_output, body)


REASON = typer.Option(None, "--reason", help="Why (shown in the dashboard and sync logs).")


@credentials_app.command("disable")
def credentials_disable(
    credential: int = typer.Argument(..., help="Credential id."),
    reason: str | None = REASON,
    json_output: bool = JSON,
) -> None:
    """Kill switch: no scheduled run starts, manual syncs are refused, a running one stops."""
    _switch(
        credential=credential, company=None, enabled=False, reason=reason, json_output=json_output
    )


@credentials_app.command("enable")
def credentials_enable(
    credential: int = typer.Argument(..., help="Credential id."), json_output: bool = JSON
) -> None:
    """Undo `credentials disable`."""
    _switch(credential=credential, company=None, enabled=True, reason=None, json_output=json_output)


@companies_app.command("disable")
def companies_disable(
    company: int = typer.Argument(..., help="Company id."),
    reason: str | None = REASON,
    json_output: bool = JSON,
) -> None:
    """Kill switch for every credential of a company."""
    _switch(credential=None, company=company, enabled=False, reason=reason, json_output=json_output)


@companies_app.command("enable")
def companies_enable(
    company: int = typer.Argument(..., help="Company id."), json_output: bool = JSON
) -> None:
    """Undo `companies disable`."""
    _switch(credential=None, company=company, enabled=True, reason=None, json_output=json_output)
