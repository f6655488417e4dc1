"""Schema migrations with Alembic, driven from code (``starter.py db upgrade``, the worker).

The worker upgrades an embedded database on its own (it is ours), but refuses to touch a
configured one: an operator runs ``starter.py db upgrade`` deliberately, after reading the
release notes, and the worker only checks that the schema is current.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.engine import make_sync_engine, sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDateError(Exception):
    """The database's schema is not the one this code needs."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql://x@y/z")).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def check_up_to_date(url: str) -> None:
    """Raise SchemaOutOfDateError with the command that fixes it."""
    current, head = current_revision(url), head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            f"database schema is at {current or 'nothing (empty database)'} but this version "
            f"needs {head}; run `python starter.py db upgrade`"
        )


def prepare(url: str, *, embedded: bool) -> None:
    """Upgrade our own embedded database; only check a configured one (operators migrate)."""
    if embedded:
        upgrade(url)
    else:
        check_up_to_date(url)
