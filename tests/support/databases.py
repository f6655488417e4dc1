"""Throw-away PostgreSQL databases on the session's server, for fixtures of any scope."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from db.engine import with_database


def admin(server_url: str, sql: str) -> None:
    """One statement on the server outside a transaction (CREATE/DROP DATABASE)."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql)


@contextmanager
def fresh_database(server_url: str, template: str | None) -> Iterator[str]:
    """A new database, a copy of ``template`` (or empty), dropped on exit; yields its URL."""
    name = f"stsync_test_{uuid.uuid4().hex[:12]}"
    suffix = f' TEMPLATE "{template}"' if template else ""
    admin(server_url, f'CREATE DATABASE "{name}"{suffix}')
    try:
        yield with_database(server_url, name)
    finally:
        admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
