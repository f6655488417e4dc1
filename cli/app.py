"""The operator CLI (``python starter.py …``): one typer app, commands grouped by topic."""

from __future__ import annotations

import typer
from typer.exceptions import TyperException

from cli.admin_commands import db_app, embedded_app, keys_app
from cli.api_commands import api_app
from cli.audit_commands import audit
from cli.company_commands import companies_app, credentials_app
from cli.fleet_commands import credentials_import
from cli.outbox_commands import outbox_app
from cli.output import CliError, report_error
from cli.reject_commands import rejects_app
from cli.runner import EXPECTED_ERRORS
from cli.schedule_commands import schedule_app
from cli.sync_commands import (
    alerts,
    dashboard,
    history,
    reconcile_command,
    status,
    sync,
)
from cli.token_commands import tokens_app
from core.process_exit import exit_code, exit_now

app = typer.Typer(
    name="starter.py",
    help="Operate the ServiceTitan sync: companies, credentials, syncs, schedules, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(companies_app, name="companies")
credentials_app.command("import")(credentials_import)
app.add_typer(credentials_app, name="credentials")
app.add_typer(schedule_app, name="schedule")
app.command("sync")(sync)
app.command("status")(status)
app.command("history")(history)
app.command("dashboard")(dashboard)
app.add_typer(rejects_app, name="rejects")
app.command("alerts")(alerts)
app.command("reconcile")(reconcile_command)
app.command("audit")(audit)
app.add_typer(outbox_app, name="outbox")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(embedded_app, name="embedded")
app.add_typer(tokens_app, name="tokens")
app.add_typer(api_app, name="api")


def main() -> None:
    """Entry point: argument errors raised before a command body runs are one line too."""
    code = 0
    try:
        result = app(standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except TyperException as error:
        context = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help())  # a bare group: show its commands, as --help would
        else:
            # Click would print its usage box: one line with the way to more help is enough.
            where = f" (see `{context.command_path} --help`)" if context is not None else ""
            report_error(error.format_message() + where)
        code = getattr(error, "exit_code", 2)
    except typer.Abort:
        report_error("aborted")
        code = 1
    except typer.Exit as error:
        code = error.exit_code
    except SystemExit as error:
        code = exit_code(error)
    except CliError as error:
        report_error(str(error))
        code = error.code
    except EXPECTED_ERRORS as error:  # e.g. a value parsed before the command body runs
        report_error(str(error))
        code = 1
    exit_now(code)
