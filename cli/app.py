"""The operator CLI (``python starter.py …``): one typer app, commands grouped by topic."""

from __future__ import annotations

import typer

from cli.admin_commands import db_app, embedded_app, keys_app
from cli.company_commands import companies_app, credentials_app
from cli.output import CliError, report_error

app = typer.Typer(
    name="starter.py",
    help="Operate the ServiceTitan sync: companies, credentials, syncs, schedules, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(companies_app, name="companies")
app.add_typer(credentials_app, name="credentials")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(embedded_app, name="embedded")


def main() -> None:
    """Entry point: argument errors raised before a command body runs are one line too."""
    try:
        app()
    except CliError as error:
        report_error(str(error))
        raise SystemExit(error.code) from None
