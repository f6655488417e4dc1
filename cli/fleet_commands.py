"""Bulk operations as the CLI shows them: ``sync --all``, ``schedule set --all`` and
``credentials import``. The rules are the service layer's (``services.fleet``,
``services.fleet_import``); this module reads files and renders one line per credential."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape

from cli.context import CommandContext
from cli.output import console, emit_json, errors, fail, table
from cli.runner import run_command
from services import fleet, fleet_import
from services.fleet import Outcome, Selection

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
CONCURRENCY = typer.Option(
    fleet.DEFAULT_CONCURRENCY,
    "--concurrency",
    min=1,
    max=fleet.MAX_CONCURRENCY,
    help="With --all: how many credentials are worked on at once.",
)
COMPANY = typer.Option(None, "--company", help="With --all: only this company's credentials.")
ENVIRONMENT = typer.Option(
    None, "--environment", help="With --all: only production or integration credentials."
)
STALE = typer.Option(
    False, "--stale", help="With --all: only credentials `alerts` reports as stale."
)


def check_bulk_flags(
    every_credential: bool, credential: int | None, selection: Selection, concurrency: int
) -> None:
    """A credential id or --all, never both; the filters only with --all."""
    if every_credential and credential is not None:
        fail("give a credential id or --all, not both")
    if not every_credential and credential is None:
        fail("give a credential id, or --all for every credential")
    filtered = selection != Selection() or concurrency != fleet.DEFAULT_CONCURRENCY
    if not every_credential and filtered:
        fail("--company, --environment, --stale and --concurrency go with --all")


def _line(outcome: Outcome) -> str:
    colour = "green" if outcome.ok else "red"
    if outcome.result == "skipped":
        colour = "yellow"
    where = f"{outcome.company_name} (#{outcome.company_id}), tenant {outcome.tenant_id}"
    log = f" (sync log #{outcome.sync_log_id})" if outcome.sync_log_id is not None else ""
    return (
        f"credential {outcome.credential_id} · {escape(where)} {outcome.environment}: "
        f"[bold {colour}]{outcome.result}[/] — {escape(outcome.detail)}{log}"
    )


def _finish(ctx: CommandContext, what: str, outcomes: list[Outcome]) -> None:
    """The summary (or the JSON document); exit 1 when any credential failed."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    failed = sum(1 for o in outcomes if not o.ok)
    if ctx.json_output:
        emit_json({"results": [asdict(o) for o in outcomes], "counts": counts, "failed": failed})
    elif not outcomes:
        console.print(f"no credential matches; nothing to {what}")
    else:
        parts = ", ".join(f"{n} {result}" for result, n in sorted(counts.items()))
        console.print(f"{len(outcomes)} credentials: {parts}")
    if failed:
        raise typer.Exit(1)


def _report(ctx: CommandContext) -> fleet.Report | None:
    """Print each credential's line as it ends (text output only)."""
    if ctx.json_output:
        return None

    def show(outcome: Outcome) -> None:
        console.print(_line(outcome))

    return show


def sync_all(
    selection: Selection,
    *,
    data_type: str,
    force_full: bool,
    concurrency: int,
    json_output: bool,
) -> None:
    """``sync --all``: every selected credential, waited for, one line each as it ends."""

    async def body(ctx: CommandContext) -> None:
        outcomes = await fleet.sync_all(
            ctx.services,
            ctx.principal,
            selection,
            data_type=data_type,
            force_full=force_full,
            concurrency=concurrency,
            report=_report(ctx),
        )
        _finish(ctx, "sync", outcomes)

    run_command(json_output, body)


def schedule_all(
    selection: Selection,
    *,
    every: str | None,
    cron: str | None,
    data_type: str,
    jitter: str | None,
    concurrency: int,
    json_output: bool,
) -> None:
    """``schedule set --all``: the same schedule for every selected credential."""

    async def body(ctx: CommandContext) -> None:
        outcomes = await fleet.schedule_all(
            ctx.services,
            ctx.principal,
            selection,
            every=every,
            cron=cron,
            data_type=data_type,
            jitter=jitter,
            concurrency=concurrency,
            report=_report(ctx),
        )
        _finish(ctx, "schedule", outcomes)

    run_command(json_output, body)


FILE = typer.Argument(..., help="CSV with columns company, tenant, client_id, environment.")
SECRETS = typer.Option(
    None,
    "--secrets",
    help="File of client_id,client_secret lines, readable by its owner only (chmod 600).",
)


def credentials_import(
    file: Path = FILE,
    secrets: Path | None = SECRETS,
    secrets_stdin: bool = typer.Option(
        False, "--secrets-stdin", help="Read the client_id,client_secret lines from stdin."
    ),
    json_output: bool = JSON,
) -> None:
    """Onboard many credentials: check every row (nothing is created if one is wrong), create
    them all, then test each. Exits 1 when nothing was imported, 3 when some do not connect."""
    if (secrets is None) == (not secrets_stdin):
        fail("give the secrets with exactly one of --secrets FILE and --secrets-stdin")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {file}: {getattr(error, 'strerror', None) or error}")

    async def body(ctx: CommandContext) -> None:
        rows = fleet_import.parse_rows(text)
        if secrets is not None:
            known = fleet_import.read_secrets_file(secrets)
        else:
            known = fleet_import.parse_secrets(sys.stdin.read())
        report = await fleet_import.import_credentials(ctx.services, ctx.principal, rows, known)
        if ctx.json_output:
            emit_json(
                {
                    "imported": report.imported,
                    "problems": report.problems,
                    "results": [asdict(r) for r in report.results],
                }
            )
        elif not report.imported:
            for problem in report.problems:
                errors.print(f"  {problem}", markup=False)
        else:
            table(
                f"Imported {len(report.results)} credentials from {file.name}",
                ["line", "cred", "company", "tenant", "env", "verdict", "reason"],
                [
                    (r.line, r.credential_id, r.company_id, r.tenant_id, r.environment,
                     r.verdict, r.reason)
                    for r in report.results
                ],
            )  # fmt: skip
        if not report.imported:
            fail(f"{len(report.problems)} problem(s) in {file.name}; nothing was imported")
        if not report.all_connected:
            bad = [r.credential_id for r in report.results if not r.connected]
            errors.print(f"imported, but credentials {bad} do not connect (see above)")
            raise typer.Exit(3)

    run_command(json_output, body)
