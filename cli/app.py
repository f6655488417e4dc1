"""The operator CLI (``python starter.py …``): one typer app, commands grouped by topic."""

from __future__ import annotations

import typer

from cli.admin_commands import db_app, embedded_app, keys_app
from cli.company_commands import companies_app, credentials_app
from cli.output import CliError, report_error
from cli.runner import EXPECTED_ERRORS
from cli.schedule_commands import schedule_app
from cli.sync_commands import (
    alerts,
    dashboard,
    history,
    reconcile_command,
    rejects,
    status,
    sync,
)
from core.process_exit import exit_code, exit_now

app = typer.Typer(
    name="starter.py",
    help="Operate the ServiceTitan sync: companies, credentials, syncs, schedules, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(companies_app, name="companies")
app.add_typer(credentials_app, name="credentials")
app.add_typer(schedule_app, name="schedule")
app.command("sync")(sync)
app.command("status")(status)
app.command("history")(history)
app.command("dashboard")(dashboard)
app.command("rejects")(rejects)
app.command("alerts")(alerts)
app.command("reconcile")(reconcile_command)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(embedded_app, name="embedded")


def main() -> None:
    """Entry point: argument errors raised before a command body runs are one line too."""
    code = 0
    try:
        app()
    except SystemExit as error:
        code = exit_code(error)
    except CliError as error:
        report_error(str(error))
        code = error.code
    except EXPECTED_ERRORS as error:  # e.g. a value parsed before the command body runs
        report_error(str(error))
        code = 1
    exit_now(code)
