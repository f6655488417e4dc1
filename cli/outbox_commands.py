"""``starter.py outbox list|ack``: the hand-offs waiting for the downstream consumer.

The contract a consumer relies on is in docs/operations.md ("The dispatch outbox").
"""

from __future__ import annotations

from dataclasses import asdict

import typer

from cli.context import CommandContext
from cli.output import console, emit_json, table, when
from cli.runner import run_command
from services import outbox

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
outbox_app = typer.Typer(
    help="Hand-offs to downstream processing (one per sync run that synced records).",
    no_args_is_help=True,
)


@outbox_app.command("list")
def outbox_list(
    company: int | None = typer.Option(None, "--company", help="Only this company."),
    credential: int | None = typer.Option(None, "--credential", help="Only this credential."),
    status: str = typer.Option(
        "pending", "--status", help="pending (not acknowledged), acknowledged or all."
    ),
    limit: int = typer.Option(200, "--limit", min=1, max=200, help="How many rows."),
    json_output: bool = JSON,
) -> None:
    """Hand-offs, oldest first (pending ones by default)."""

    async def body(ctx: CommandContext) -> None:
        found = await outbox.list_outbox(
            ctx.services,
            ctx.principal,
            company_id=company,
            credential_id=credential,
            status=status,
            page_size=limit,
        )
        if ctx.json_output:
            emit_json([asdict(row) for row in found.items])
            return
        table(
            f"Outbox: {status} ({len(found.items)} of {found.total})",
            ["id", "sync log", "company", "cred", "records", "status", "created", "acknowledged"],
            [
                (
                    r.id,
                    r.sync_log_id,
                    r.company_id,
                    r.credential_id,
                    r.records_synced,
                    r.status,
                    when(r.created_at),
                    f"{when(r.acknowledged_at)} by {r.acknowledged_by}"
                    if r.acknowledged_at
                    else "",
                )
                for r in found.items
            ],
        )

    run_command(json_output, body)


IDS = typer.Argument(None, help="Outbox row ids (the `id` column).")


@outbox_app.command("ack")
def outbox_ack(
    ids: list[int] | None = IDS,
    through: int | None = typer.Option(
        None, "--through", help="Also every pending row with an id up to this one."
    ),
    company: int | None = typer.Option(
        None, "--company", help="Only rows of this company (with --through)."
    ),
    json_output: bool = JSON,
) -> None:
    """Acknowledge hand-offs the consumer has processed (idempotent; all or none)."""

    async def body(ctx: CommandContext) -> None:
        done = await outbox.acknowledge(
            ctx.services, ctx.principal, ids or [], through=through, company_id=company
        )
        if ctx.json_output:
            emit_json(asdict(done))
            return
        console.print(
            f"acknowledged {len(done.acknowledged)} row(s)"
            + (f": {', '.join(map(str, done.acknowledged))}" if done.acknowledged else "")
        )
        if done.already:
            console.print(f"already acknowledged: {', '.join(map(str, done.already))}")

    run_command(json_output, body)
