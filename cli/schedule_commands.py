"""Recurring syncs: ``schedule set|pause|resume|trigger|delete|list`` (Temporal Schedules)."""

from __future__ import annotations

from dataclasses import asdict

import typer
from temporalio.client import ScheduleOverlapPolicy

from cli.context import CommandContext
from cli.output import console, emit_json, fail, table, when
from cli.runner import run_command
from contracts.sync import DataType
from db import credentials
from runtime import schedules

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
schedule_app = typer.Typer(help="Recurring syncs (Temporal Schedules).", no_args_is_help=True)
CREDENTIAL = typer.Argument(..., help="Credential id.")


@schedule_app.command("set")
def schedule_set(
    credential: int = CREDENTIAL,
    every: str | None = typer.Option(None, "--every", help="Interval, e.g. 15m, 1h, 1d."),
    cron: str | None = typer.Option(None, "--cron", help='Cron expression, e.g. "0 * * * *".'),
    data_type: str = typer.Option("both", "--data-type", help="invoices, customers or both."),
    jitter: str | None = typer.Option(
        "1m", "--jitter", help="Random delay added to each run (spreads tenants out); 0 for none."
    ),
    json_output: bool = JSON,
) -> None:
    """Create or update the credential's schedule (skips a run while one is in progress)."""
    if (every is None) == (cron is None):
        fail("give exactly one of --every and --cron")
    if data_type not in ("invoices", "customers", "both"):
        fail(f"--data-type must be invoices, customers or both (got {data_type!r})")
    interval = schedules.parse_duration(every) if every else None
    spread = schedules.parse_duration(jitter) if jitter and jitter.strip() != "0" else None
    kind: DataType = data_type  # type: ignore[assignment]

    async def body(ctx: CommandContext) -> None:
        async with ctx.transaction() as connection:
            info = await credentials.get_credential(connection, ctx.box, credential)
        client = await ctx.temporal()
        created = await schedules.set_schedule(
            client,
            ctx.settings,
            credential,
            every=interval,
            cron=cron,
            data_type=kind,
            jitter=spread,
            company_id=info.company_id,
            tenant_id=info.tenant_id,
        )
        summary = schedules.summarize(
            credential, await (await schedules.require(client, credential)).describe()
        )
        if ctx.json_output:
            emit_json({"created": created, **asdict(summary)})
        else:
            verb = "created" if created else "updated"
            nxt = when(summary.next_runs[0]) if summary.next_runs else "-"
            console.print(f"{verb} {summary.schedule_id}: {summary.spec}; next run {nxt}")

    run_command(json_output, body)


def _simple(action: str, credential: int, json_output: bool) -> None:
    async def body(ctx: CommandContext) -> None:
        client = await ctx.temporal()
        try:
            handle = await schedules.require(client, credential)
        except LookupError as error:
            fail(str(error))
        if action == "pause":
            await handle.pause(note=f"paused by {ctx.actor}")
        elif action == "resume":
            await handle.unpause(note=f"resumed by {ctx.actor}")
        elif action == "trigger":
            await handle.trigger(overlap=ScheduleOverlapPolicy.SKIP)
        elif action == "delete":
            await handle.delete()
        if ctx.json_output:
            emit_json({"schedule_id": handle.id, "action": action})
        else:
            past = {
                "pause": "paused",
                "resume": "resumed",
                "trigger": "triggered",
                "delete": "deleted",
            }
            console.print(f"{past[action]} {handle.id}")

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
        summaries = await schedules.list_summaries(await ctx.temporal())
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
