"""One embedded PostgreSQL for every process on this machine, from the pgserver wheel.

With ``DATABASE_URL`` unset, the worker and the CLI share a PostgreSQL 16 whose data lives in
``DATA_DIR/postgres``. pgserver already serialises start-up across processes with its own
lock and reuses a running postmaster; we ask it never to stop the server when our process
exits (``cleanup_mode=None``), because the other entry point may still be using it.
It listens on a Unix socket only, which no other machine can reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from core.embedded.process import file_lock, stop_pid
from core.logging import get_logger

log = get_logger(__name__)

DATABASE_NAME = "servicetitan_sync"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """Connection details of the embedded server (no password: local trust auth)."""

    url: str
    socket_dir: str
    pid: int | None
    data_path: Path


def ensure_embedded_postgres(data_dir: Path, database: str = DATABASE_NAME) -> EmbeddedPostgres:
    """Start (or reuse) the embedded server and make sure ``database`` exists."""
    import pgserver  # imported lazily: configured deployments never need it

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError(f"unsafe database name {database!r}")
    pgdata = data_dir / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(data_dir / "postgres.lock"):
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        uri = server.get_uri()
        socket_dir = parse_qs(urlsplit(uri).query)["host"][0]
        # The name was checked against a strict pattern above; psql takes no parameters.
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
            log.info("created embedded database", database=database)
        url = f"postgresql://postgres@/{database}?host={socket_dir}"
        return EmbeddedPostgres(url, socket_dir, server.get_pid(), pgdata)


def stop_embedded_postgres(data_dir: Path) -> bool:
    """Stop the embedded server if it runs (it is ours: its data dir is under DATA_DIR)."""
    pgdata = data_dir / "postgres"
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    with file_lock(data_dir / "postgres.lock"):
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return False
        return stop_pid(pid, timeout=30)
