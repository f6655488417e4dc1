"""Resolve where PostgreSQL and Temporal are: configured, or embedded and shared.

Both entry points (``worker.py``, ``starter.py``) call ``resolve_infrastructure`` first. With
nothing configured it starts or reuses the embedded services and says so plainly in one log
line, with the Web UI's address, so a newcomer knows what is running and where to look.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from core.embedded.postgres import ensure_embedded_postgres
from core.embedded.temporal import ensure_temporal_dev_server
from core.logging import get_logger
from core.settings import ConfigurationError, Settings

log = get_logger(__name__)

# pgserver asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR it warns on every
# start although its fallback (/tmp/runtime-<uid>) is fine for a lock file.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass(frozen=True)
class Infrastructure:
    """Addresses of the services this process talks to."""

    database_url: str
    temporal_address: str
    temporal_ui_url: str | None
    embedded_database: bool
    embedded_temporal: bool


def resolve_database_url(settings: Settings) -> tuple[str, bool]:
    """(url, embedded?) — the configured DATABASE_URL or the embedded server's."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), False
    try:
        embedded = ensure_embedded_postgres(settings.data_dir)
    except ModuleNotFoundError:
        raise ConfigurationError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed here "
            "(production images leave it out): set DATABASE_URL"
        ) from None
    return embedded.url, True


def resolve_temporal(settings: Settings) -> tuple[str, str | None, bool]:
    """(address, ui url or None, embedded?)."""
    if settings.temporal_address is not None:
        return settings.temporal_address, None, False
    try:
        embedded = ensure_temporal_dev_server(
            settings.data_dir, settings.embedded_temporal_port, settings.embedded_temporal_ui_port
        )
    except FileNotFoundError:
        raise ConfigurationError(
            "TEMPORAL_ADDRESS is not set and the embedded Temporal server is not installed here "
            "(production images leave it out): set TEMPORAL_ADDRESS"
        ) from None
    return embedded.address, embedded.ui_url, True


def resolve_infrastructure(settings: Settings, *, announce: bool = True) -> Infrastructure:
    database_url, embedded_db = resolve_database_url(settings)
    address, ui_url, embedded_temporal = resolve_temporal(settings)
    infra = Infrastructure(database_url, address, ui_url, embedded_db, embedded_temporal)
    if announce and (embedded_db or embedded_temporal):
        log.info(
            "embedded defaults in use"
            + (f": Temporal Web UI at {ui_url}" if ui_url else "")
            + (f", PostgreSQL under {settings.data_dir / 'postgres'}" if embedded_db else ""),
            temporal=address,
            embedded_temporal=embedded_temporal,
            embedded_postgres=embedded_db,
        )
    return infra
