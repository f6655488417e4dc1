"""``starter.py api serve``: the HTTP API (docs/api.md) on uvicorn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from cli.output import report_error
from cli.runner import EXPECTED_ERRORS
from core.logging import configure_logging
from core.settings import get_settings

api_app = typer.Typer(help="The HTTP API (docs/api.md).", no_args_is_help=True)
PORT_FILE = typer.Option(
    None, "--port-file", help="Write the port here once listening (removed on exit)."
)


@api_app.command("serve")
def serve(
    host: str | None = typer.Option(None, "--host", help="Listen address (default API_HOST)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Port (default API_PORT); 0 picks a free one."
    ),
    port_file: Path | None = PORT_FILE,
) -> None:
    """Serve the API until Ctrl-C or SIGTERM (docs at /docs, schema at /openapi.json)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    from api.server import serve_forever  # after logging: its imports log

    try:
        asyncio.run(
            serve_forever(
                settings,
                settings.api_host if host is None else host,
                settings.api_port if port is None else port,
                port_file,
            )
        )
    except EXPECTED_ERRORS as error:
        report_error(str(error))
        raise typer.Exit(1) from None
    except OSError as error:  # e.g. the port is taken
        report_error(f"cannot serve the API: {error}")
        raise typer.Exit(1) from None
