"""Quarantined records and field warnings: ``rejects`` (list), ``rejects --warnings``,
``rejects replay``.

A reject is a record the sync could not apply (kept with its raw JSON); a field warning is a
field stored as NULL in a record that was applied. ``rejects replay`` maps the unresolved
rejects again with the current code and applies those that now pass (``runtime.reject_replay``).
"""

from __future__ import annotations

from dataclasses import asdict

import typer

from cli.context import CommandContext
from cli.output import console, emit_json, fail, table, when
from cli.runner import run_command
from db.quarantine import Resolution
from services import rejects as reject_service
from servicetitan.pages import ExportStream

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
STREAMS = tuple(stream.value for stream in ExportStream)

rejects_app = typer.Typer(
    help="Quarantined records (and field warnings); `rejects replay` applies those that now pass."
)


def _stream(value: str | None) -> str | None:
    if value is not None and value not in STREAMS:
        fail(f"--stream must be one of {', '.join(STREAMS)} (got {value!r})")
    return value


@rejects_app.callback(invoke_without_command=True)
def rejects(
    context: typer.Context,
    credential: int | None = typer.Option(None, "--credential", help="Only this credential."),
    stream: str | None = typer.Option(
        None, "--stream", help=f"Only this stream: {', '.join(STREAMS)}."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Only reasons containing TEXT."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many entries."),
    raw: bool = typer.Option(False, "--raw", help="Include each record's full raw JSON."),
    warnings: bool = typer.Option(
        False, "--warnings", help="List field warnings (fields stored as NULL) instead."
    ),
    show_all: bool = typer.Option(False, "--all", help="Include resolved (replayed) rejects."),
    resolved: bool = typer.Option(False, "--resolved", help="Only resolved (replayed) rejects."),
    json_output: bool = JSON,
) -> None:
    """Quarantined records with the reason each was rejected (unresolved ones unless asked)."""
    if context.invoked_subcommand is not None:
        return
    if show_all and resolved:
        fail("--all and --resolved exclude each other")
    chosen = _stream(stream)
    resolution: Resolution = "all" if show_all else "resolved" if resolved else "open"

    async def body(ctx: CommandContext) -> None:
        if warnings:
            await _show_warnings(ctx, credential, chosen, reason, limit)
            return
        entries = await reject_service.rejects(
            ctx.services,
            ctx.principal,
            credential_id=credential,
            stream=chosen,
            reason=reason,
            resolution=resolution,
            limit=limit,
            include_raw=raw,
        )
        if ctx.json_output:
            emit_json([asdict(e) for e in entries])
            return
        resolved_column = ["resolved"] if resolution != "open" else []
        table(
            "Rejected records",
            ["id", "cred", "stream", "record id", "reason", "when", *resolved_column]
            + (["raw"] if raw else []),
            [
                (
                    e.id,
                    e.credential_id,
                    e.stream,
                    e.record_id or "?",
                    e.reason,
                    when(e.rejected_at),
                    *(
                        [f"{when(e.resolved_at)} by {e.resolved_by}" if e.resolved_at else "no"]
                        if resolved_column
                        else []
                    ),
                    *([e.raw] if raw else []),
                )
                for e in entries
            ],
        )

    run_command(json_output, body)


async def _show_warnings(
    ctx: CommandContext, credential: int | None, stream: str | None, reason: str | None, limit: int
) -> None:
    entries = await reject_service.warnings(
        ctx.services,
        ctx.principal,
        credential_id=credential,
        stream=stream,
        reason=reason,
        limit=limit,
    )
    if ctx.json_output:
        emit_json([asdict(e) for e in entries])
        return
    table(
        "Field warnings (stored as NULL)",
        ["id", "cred", "sync", "stream", "record id", "column", "value starts", "reason", "when"],
        [
            (
                e.id,
                e.credential_id,
                e.sync_log_id if e.sync_log_id is not None else "replay",
                e.stream,
                e.record_id,
                e.column,
                e.value,
                e.reason,
                when(e.warned_at),
            )
            for e in entries
        ],
    )


@rejects_app.command("replay")
def replay(
    credential: int | None = typer.Option(None, "--credential", help="Only this credential."),
    stream: str | None = typer.Option(
        None, "--stream", help=f"Only this stream: {', '.join(STREAMS)}."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Only reasons containing TEXT."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would land; write nothing."),
    json_output: bool = JSON,
) -> None:
    """Map unresolved rejects again with the current code and apply those that now pass.

    They go through the sync's upsert (a newer version already stored wins); the rejects that
    landed are marked resolved, the rest stay. Replaying again changes nothing.
    """
    chosen = _stream(stream)

    async def body(ctx: CommandContext) -> None:
        report = await reject_service.replay(
            ctx.services,
            ctx.principal,
            credential_id=credential,
            stream=chosen,
            reason=reason,
            dry_run=dry_run,
        )
        if ctx.json_output:
            document = asdict(report)
            document.pop("resolved_ids")
            emit_json(document)
            return
        verb = "would land" if dry_run else "landed"
        console.print(
            f"{report.examined} unresolved rejects examined: {report.landed} {verb}, "
            f"{report.still_rejected} still rejected"
            + (
                ""
                if dry_run
                else f" (inserted {report.inserted}, updated {report.updated}, "
                f"unchanged {report.unchanged}; {report.warnings} field warnings)"
            )
        )

    run_command(json_output, body)
