"""Recurring syncs: ``schedule set|pause|resume|trigger|delete|list`` (Temporal Schedules)."""

from __future__ import annotations

from dataclasses import asdict

import typer

from cli import fleet_commands
from cli.context import CommandContext
from cli.output import console, emit_json, table, when
from cli.runner import run_command
from services import schedules
from services.fleet import Selection
from services.schedules import ScheduleAction

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
schedule_app = typer.Typer(help="Recurring syncs (Temporal Schedules).", no_args_is_help=True)
CREDENTIAL = typer.Argument(..., help="Credential id.")


@schedule_app.command("set")
def schedule_set(
    credential: int | None = typer.Argument(None, help="Credential id (or --all)."),
    every: str | None = typer.Option(None, "--every", help="Interval, e.g. 15m, 1h, 1d."),
    cron: str | None = typer.Option(None, "--cron", help='Cron expression, e.g. "0 * * * *".'),
    data_type: str = typer.Option("both", "--data-type", help="invoices, customers or both."),
    jitter: str | None = typer.Option(
        "1m", "--jitter", help="Random delay added to each run (spreads tenants out); 0 for none."
    ),
    every_credential: bool = typer.Option(
        False, "--all", help="Set it for every credential (filtered); one line each."
    ),
    company: int | None = fleet_commands.COMPANY,
    environment: str | None = fleet_commands.ENVIRONMENT,
    stale: bool = fleet_commands.STALE,
    concurrency: int = fleet_commands.CONCURRENCY,
    json_output: bool = JSON,
) -> None:
    """Create or update the credential's schedule (skips a run while one is in progress).

    With --all: the same schedule for every credential (or those --company, --environment,
    --stale choose); exits 1 if any could not be set.
    """
    selection = Selection(company, environment, stale)
    fleet_commands.check_bulk_flags(every_credential, credential, selection, concurrency)
    if every_credential:
        fleet_commands.schedule_all(
            selection,
            every=every,
            cron=cron,
            data_type=data_type,
            jitter=jitter,
            concurrency=concurrency,
            json_output=json_output,
        )
        return
    assert credential is not None

    async def body(ctx: CommandContext) -> None:
        made = await schedules.set_schedule(
            ctx.services,
            ctx.principal,
            credential,
            every=every,
            cron=cron,
            data_type=data_type,
            jitter=jitter,
        )
        summary = made.summary
        if ctx.json_output:
            emit_json({"created": made.created, **asdict(summary)})
        else:
            verb = "created" if made.created else "updated"
            nxt = when(summary.next_runs[0]) if summary.next_runs else "-"
            console.print(f"{verb} {summary.schedule_id}: {summary.spec}; next run {nxt}")

    run_command(json_output, body)


def _simple(action: ScheduleAction, credential: int, json_output: bool) -> None:
    async def body(ctx: CommandContext) -> None:
        changed = await schedules.change_schedule(ctx.services, ctx.principal, credential, action)
        if ctx.json_output:
            emit_json({"schedule_id": changed.schedule_id, "action": action})
        else:
            past = {
                "pause": "paused",
                "resume": "resumed",
                "trigger": "triggered",
                "delete": "deleted",
            }
            console.print(f"{past[action]} {changed.schedule_id}")

    run_command(json_output, body)


@schedule_app.command("pause")
def schedule_pause(credential: int = CREDENTIAL, json_output: bool = JSON) -> None:
    """Stop scheduled runs until resumed."""
    _simple("pause", credential, json_output)


@schedule_app.command("resume")
def schedule_resume(credential: int = CREDENTIAL, json_output: bool = JSON) -> None:
    """Resume a paused schedule."""
    _simple("resume", credential, json_output)


@schedule_app.command("trigger")
def schedule_trigger(credential: int = CREDENTIAL, json_output: bool = JSON) -> None:
    """Run the scheduled sync now (skipped if a sync of the credential is running)."""
    _simple("trigger", credential, json_output)


@schedule_app.command("delete")
def schedule_delete(credential: int = CREDENTIAL, json_output: bool = JSON) -> None:
    """Delete the schedule (a sync it started keeps running)."""
    _simple("delete", credential, json_output)


@schedule_app.command("list")
def schedule_list(json_output: bool = JSON) -> None:
    """All credentials' schedules."""

    async def body(ctx: CommandContext) -> None:
        summaries = await schedules.list_schedules(ctx.services, ctx.principal)
        if ctx.json_output:
            emit_json([asdict(s) for s in summaries])
            return
        table(
            "Schedules",
            ["cred", "schedule", "spec", "state", "next run", "recent runs"],
            [
                (
                    s.credential_id,
                    s.schedule_id,
                    s.spec,
                    "paused" if s.paused else "active",
                    when(s.next_runs[0]) if s.next_runs and not s.paused else "-",
                    "\n".join(s.recent[-3:]),
                )
                for s in summaries
            ],
        )

    run_command(json_output, body)
