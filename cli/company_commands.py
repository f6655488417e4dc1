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
from services import companies, credentials
from services.switches import SwitchResult

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
        company = await companies.add_company(
            ctx.services, ctx.principal, name=name, intacct_id=intacct_id, primary_trade=trade
        )
        if ctx.json_output:
            emit_json(asdict(company))
        else:
            console.print(company.id)

    run_command(json_output, body)


@companies_app.command("list")
def companies_list(json_output: bool = JSON) -> None:
    """List companies."""

    async def body(ctx: CommandContext) -> None:
        rows = await companies.list_companies(ctx.services, ctx.principal)
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
    # Checked before the prompt, so nobody types a secret for a command that will fail.
    if environment not in ("production", "integration"):
        fail(f"--environment must be production or integration (got {environment!r})")
    if not tenant_id.isdigit():
        fail(f"--tenant-id must be ServiceTitan's numeric tenant id (got {tenant_id!r})")
    secret = read_secret(client_secret_stdin)

    async def body(ctx: CommandContext) -> None:
        info = await credentials.create_credential(
            ctx.services,
            ctx.principal,
            company_id=company,
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=secret,
            environment=environment,
        )
        if ctx.json_output:
            emit_json(asdict(info))
        else:
            console.print(info.id)

    run_command(json_output, body)


@credentials_app.command("list")
def credentials_list(json_output: bool = JSON) -> None:
    """List credentials (client ids masked)."""

    async def body(ctx: CommandContext) -> None:
        rows = await credentials.list_credentials(ctx.services, ctx.principal)
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
        info = await credentials.get_credential(ctx.services, ctx.principal, credential)
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
        change = await credentials.update_credential(
            ctx.services,
            ctx.principal,
            credential,
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
        deleted = await credentials.delete_credential(
            ctx.services, ctx.principal, credential, force=force
        )
        if ctx.json_output:
            emit_json(
                {"id": credential, "deleted": True, "schedule_deleted": deleted.schedule_deleted}
            )
        else:
            extra = " and its schedule" if deleted.schedule_deleted else ""
            console.print(f"deleted credential {credential}{extra}")

    run_command(json_output, body)


@credentials_app.command("test")
def credentials_test(
    credential: int = typer.Argument(..., help="Credential id."), json_output: bool = JSON
) -> None:
    """Request a token and make one API call; records the connection status."""

    async def body(ctx: CommandContext) -> None:
        check = await credentials.test_connection(ctx.services, ctx.principal, credential)
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


def _show_switch(ctx: CommandContext, result: SwitchResult) -> None:
    if ctx.json_output:
        emit_json(asdict(result))
        return
    what = f"{result.scope} {result.id}"
    console.print(f"{what} {'enabled' if result.enabled else 'disabled'}")
    if result.schedules:
        verb = "resumed" if result.enabled else "paused"
        console.print(f"schedules {verb}: {', '.join(result.schedules)}")
    if result.running_syncs and not result.enabled:
        console.print(
            f"running syncs of credentials {result.running_syncs} stop at their next page boundary"
        )


def _switch_credential(
    credential: int, *, enabled: bool, reason: str | None, json_output: bool
) -> None:
    async def body(ctx: CommandContext) -> None:
        result = await credentials.set_enabled(
            ctx.services, ctx.principal, credential, enabled=enabled, reason=reason
        )
        _show_switch(ctx, result)

    run_command(json_output, body)


def _switch_company(company: int, *, enabled: bool, reason: str | None, json_output: bool) -> None:
    async def body(ctx: CommandContext) -> None:
        result = await companies.set_enabled(
            ctx.services, ctx.principal, company, enabled=enabled, reason=reason
        )
        _show_switch(ctx, result)

    run_command(json_output, body)


REASON = typer.Option(None, "--reason", help="Why (shown in the dashboard and sync logs).")


@credentials_app.command("disable")
def credentials_disable(
    credential: int = typer.Argument(..., help="Credential id."),
    reason: str | None = REASON,
    json_output: bool = JSON,
) -> None:
    """Kill switch: no scheduled run starts, manual syncs are refused, a running one stops."""
    _switch_credential(credential, enabled=False, reason=reason, json_output=json_output)


@credentials_app.command("enable")
def credentials_enable(
    credential: int = typer.Argument(..., help="Credential id."), json_output: bool = JSON
) -> None:
    """Undo `credentials disable`."""
    _switch_credential(credential, enabled=True, reason=None, json_output=json_output)


@companies_app.command("disable")
def companies_disable(
    company: int = typer.Argument(..., help="Company id."),
    reason: str | None = REASON,
    json_output: bool = JSON,
) -> None:
    """Kill switch for every credential of a company."""
    _switch_company(company, enabled=False, reason=reason, json_output=json_output)


@companies_app.command("enable")
def companies_enable(
    company: int = typer.Argument(..., help="Company id."), json_output: bool = JSON
) -> None:
    """Undo `companies disable`."""
    _switch_company(company, enabled=True, reason=None, json_output=json_output)
