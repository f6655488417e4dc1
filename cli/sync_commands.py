"""Syncing and watching: sync, status, history, dashboard, alerts, reconcile."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import typer

from cli import fleet_commands
from cli.context import CommandContext
from cli.output import console, emit_json, errors, fail, table, when
from cli.progress import SyncFailedError, follow
from cli.runner import run_command
from contracts.sync import SyncResult
from runtime.reconcile import ReconcileReport
from services import alerts as alert_service
from services import credentials, syncs
from services import dashboard as dashboard_service
from services import reconcile as reconcile_service
from services.fleet import Selection

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")
DATA_TYPES = ("invoices", "customers", "both")


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


def parse_from_date(text: str) -> str:
    """``2024-01-31`` or an ISO timestamp; a readable error otherwise."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        fail(f"--from must be a date like 2024-01-31 or an ISO timestamp (got {text!r})")


def sync(
    credential: int | None = typer.Argument(None, help="Credential id (or --all)."),
    data_type: str = typer.Option("both", "--data-type", help="invoices, customers or both."),
    full: bool = typer.Option(False, "--full", help="Resync everything from the beginning."),
    from_date: str | None = typer.Option(
        None, "--from", help="Resync records modified on or after this date (YYYY-MM-DD)."
    ),
    wait: bool = typer.Option(False, "--wait", help="Follow the sync until it ends."),
    every_credential: bool = typer.Option(
        False, "--all", help="Sync every credential (filtered), waiting for each; one line each."
    ),
    company: int | None = fleet_commands.COMPANY,
    environment: str | None = fleet_commands.ENVIRONMENT,
    stale: bool = fleet_commands.STALE,
    concurrency: int = fleet_commands.CONCURRENCY,
    json_output: bool = JSON,
) -> None:
    """Start a manual sync, or attach to the one already running.

    With --all: sync every credential (or those --company, --environment, --stale choose),
    --concurrency at a time, and exit 1 if any failed.
    """
    if data_type not in DATA_TYPES:
        fail(f"--data-type must be one of {', '.join(DATA_TYPES)} (got {data_type!r})")
    if full and from_date:
        fail("--full and --from cannot be combined")
    selection = Selection(company, environment, stale)
    fleet_commands.check_bulk_flags(every_credential, credential, selection, concurrency)
    if every_credential:
        if from_date:
            fail("--from does not go with --all")
        fleet_commands.sync_all(
            selection,
            data_type=data_type,
            force_full=full,
            concurrency=concurrency,
            json_output=json_output,
        )
        return
    assert credential is not None
    start_from = parse_from_date(from_date) if from_date else None

    async def body(ctx: CommandContext) -> None:
        started = await syncs.start_sync(
            ctx.services,
            ctx.principal,
            credential,
            data_type=data_type,
            force_full=full,
            from_date=start_from,
            attach=True,
        )
        if not started.started:
            errors.print(f"already running: {started.workflow_id} — attaching to it")
        elif started.workers_polling == 0:
            errors.print(
                f"warning: no worker polls task queue {ctx.settings.temporal_task_queue!r}; "
                "the sync will start when one does (`python worker.py`)"
            )
        if not wait:
            if ctx.json_output:
                emit_json(
                    {
                        "workflow_id": started.workflow_id,
                        "started": started.started,
                        "already_running": not started.started,
                    }
                )
            elif started.started:
                console.print(f"started {started.workflow_id}")
            return
        if not ctx.json_output and ctx.ui_url:
            console.print(
                f"following {started.workflow_id} "
                f"({ctx.ui_url}/namespaces/{ctx.settings.temporal_namespace}/workflows/"
                f"{started.workflow_id})"
            )
        try:
            result = await follow(started.handle, show=not ctx.json_output)
        except SyncFailedError as error:
            if ctx.json_output:
                emit_json(
                    {"workflow_id": started.workflow_id, "status": "failed", "error": str(error)}
                )
            fail(f"sync failed: {error}")
        _print_result(ctx, started.workflow_id, result)

    run_command(json_output, body)


def _print_result(ctx: CommandContext, workflow_id: str, result: SyncResult) -> None:
    if ctx.json_output:
        emit_json({"workflow_id": workflow_id, **asdict(result)})
        return
    console.print(
        f"[bold green]{result.status}[/]: {result.records_processed} records, "
        f"{result.records_rejected} rejected (sync log #{result.sync_log_id})"
    )


def status(
    credential: int = typer.Argument(..., help="Credential id."), json_output: bool = JSON
) -> None:
    """Live progress of a running sync, or the last result."""

    async def body(ctx: CommandContext) -> None:
        info = await credentials.get_credential(ctx.services, ctx.principal, credential)
        now = await syncs.status(ctx.services, ctx.principal, credential)
        live, last, summary = now.running, now.last_sync, now.schedule
        if not now.live_available:
            errors.print("warning: Temporal is not reachable; live progress and schedule unknown")
        if ctx.json_output:
            emit_json(
                {
                    "credential_id": credential,
                    "enabled": now.enabled,
                    "connection_status": now.connection_status,
                    "running": asdict(live) if live else None,
                    "last_sync": asdict(last) if last else None,
                    "schedule": asdict(summary) if summary else None,
                }
            )
            return
        state = "enabled" if now.enabled else "DISABLED"
        console.print(
            f"credential {credential} — {info.company_name}, tenant {info.tenant_id} "
            f"({info.environment}), {info.connection_status}, {state}"
        )
        if live is not None:
            table(
                f"running: {now.workflow_id or ''} (run {live.runs})",
                [
                    "stream",
                    "pages",
                    "records",
                    "inserted",
                    "updated",
                    "rejected",
                    "429 waits",
                    "state",
                ],
                [
                    (
                        s.stream,
                        s.pages,
                        s.records,
                        s.inserted,
                        s.updated,
                        s.rejected,
                        s.rate_limit_waits,
                        "done"
                        if s.done
                        else ("syncing" if s.stream == live.current_stream else "waiting"),
                    )
                    for s in live.streams
                ],
            )
        elif last is not None:
            console.print(
                f"last sync #{last.id}: {last.status} ({last.sync_type}, {last.data_type}, "
                f"{last.mode}) started {when(last.started_at)}, {last.records_processed} records"
                + (f", error: {last.error_message}" if last.error_message else "")
            )
        else:
            console.print("never synced")
        if summary is not None:
            nxt = when(summary.next_runs[0]) if summary.next_runs and not summary.paused else "-"
            console.print(
                f"schedule: {summary.spec}{' (paused)' if summary.paused else ''}; next run {nxt}"
            )

    run_command(json_output, body)


def history(
    credential: int | None = typer.Option(None, "--credential", help="Only this credential."),
    limit: int = typer.Option(20, "--limit", min=1, max=10_000, help="How many runs."),
    json_output: bool = JSON,
) -> None:
    """Past sync runs (servicetitan_sync_logs), newest first."""

    async def body(ctx: CommandContext) -> None:
        found = await syncs.history(
            ctx.services, ctx.principal, credential_id=credential, page_size=limit
        )
        entries = found.items
        if ctx.json_output:
            emit_json(
                [
                    {**_without(asdict(e), "company_id"), "duration_seconds": e.duration_seconds}
                    for e in entries
                ]
            )
            return
        table(
            "Sync history",
            [
                "id",
                "cred",
                "trigger",
                "data",
                "mode",
                "status",
                "records",
                "rejected",
                "warnings",
                "started",
                "took",
                "error",
            ],
            [
                (
                    e.id,
                    e.credential_id,
                    e.sync_type,
                    e.data_type,
                    e.mode,
                    e.status,
                    e.records_processed,
                    e.records_rejected,
                    e.field_warnings,
                    when(e.started_at),
                    f"{e.duration_seconds:.1f}s" if e.duration_seconds is not None else "running",
                    (e.error_message or "")[:80],
                )
                for e in entries
            ],
        )

    run_command(json_output, body)


def dashboard(json_output: bool = JSON) -> None:
    """Every credential: connection, switch, last sync, records, next scheduled run."""

    async def body(ctx: CommandContext) -> None:
        board = await dashboard_service.dashboard(ctx.services, ctx.principal)
        if not board.temporal_available:
            errors.print("warning: Temporal is not reachable; running syncs and schedules unknown")
        rows = [asdict(row) for row in board.rows]
        if ctx.json_output:
            emit_json(rows)
            return
        table(
            "ServiceTitan sync dashboard",
            [
                "cred",
                "company",
                "tenant",
                "env",
                "connection",
                "enabled",
                "last sync",
                "when",
                "records",
                "next run",
            ],
            [
                (
                    r["credential_id"],
                    r["company_name"],
                    r["tenant_id"],
                    r["environment"],
                    r["connection_status"],
                    "yes" if r["enabled"] else "NO",
                    "running" if r["running"] else (r["last_sync_status"] or "never"),
                    when(r["last_sync_started_at"]),
                    r["last_sync_records"] if r["last_sync_records"] is not None else "",
                    "paused"
                    if r["schedule_paused"]
                    else (when(r["next_run"]) if r["next_run"] else "-"),
                )
                for r in rows
            ],
        )

    run_command(json_output, body)


def alerts(json_output: bool = JSON) -> None:
    """Credentials whose last success is too old, that failed several times in a row, or
    whose last sync quarantined a spike of records.

    Exits 3 when there is at least one alert, so cron jobs and monitors can act on it.
    """

    async def body(ctx: CommandContext) -> None:
        state = await alert_service.alerts(ctx.services, ctx.principal)
        found = state.alerts
        if ctx.json_output:
            emit_json([asdict(a) for a in found])
        elif not found:
            console.print(f"no alerts ({len(state.health)} credentials checked)")
        else:
            table(
                "Alerts",
                ["cred", "company", "kind", "detail"],
                [(a.credential_id, a.company_name, a.kind, a.detail) for a in found],
            )
        if found:
            raise typer.Exit(3)

    run_command(json_output, body)


def reconcile_command(
    credential: int = typer.Argument(..., help="Credential id."),
    data_type: str = typer.Option("both", "--data-type", help="invoices, customers or both."),
    sample: int = typer.Option(200, "--sample", min=0, help="Records compared field by field."),
    json_output: bool = JSON,
) -> None:
    """Compare ServiceTitan with the tables: counts, sums, ids, a field-by-field sample.

    Writes nothing but a fresh access token, when one is needed. Exits 0 when everything
    matches, 3 when there are differences (each explained where the data allows), so monitors
    can run it.
    """
    if data_type not in DATA_TYPES:
        fail(f"--data-type must be one of {', '.join(DATA_TYPES)} (got {data_type!r})")

    async def body(ctx: CommandContext) -> None:
        report = await reconcile_service.reconcile_credential(
            ctx.services, ctx.principal, credential, data_type=data_type, sample=sample
        )
        if ctx.json_output:
            emit_json(report.as_dict())
        else:
            _print_reconcile(report)
        if not report.in_sync:
            raise typer.Exit(3)

    run_command(json_output, body)


def _print_reconcile(report: ReconcileReport) -> None:
    rows: list[tuple[str, str, object, object]] = []
    for s in report.streams:
        rows.append((s.stream, "records (all)", s.api_count_all, s.db_count_all))
        rows.append((s.stream, "records (active)", s.api_count_active, s.db_count_active))
        for name, sums in s.sums.items():
            rows.append((s.stream, f"sum of {name}", sums["api"], sums["db"]))
        rows.append(
            (
                s.stream,
                "sampled field by field",
                s.sample_size,
                s.sample_size - len({m["id"] for m in s.sample_mismatches}),
            )
        )
    table(
        f"Reconciliation of credential {report.credential_id} (tenant {report.tenant_id})",
        ["stream", "check", "ServiceTitan", "stored"],
        rows,
    )
    for s in report.streams:
        for line in s.explanations:
            console.print(f"  {s.stream}: {line}")
    for line in report.unexplained:
        console.print(f"  [bold red]unexplained[/] {line}")
    console.print(
        "[bold green]in sync[/]" if report.in_sync else "[bold yellow]differences found[/]"
    )
