"""Engines for the product's database: one async engine per process, psycopg 3 underneath.

``DATABASE_URL`` is written the way PostgreSQL people write it (``postgresql://…``); SQLAlchemy
needs the driver named, so every engine is made here from that one URL. Every engine hides
statement parameters from its error messages (``hide_parameters``): those messages reach logs,
and parameters are customer data and ciphertexts.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` → ``postgresql+psycopg://…`` (psycopg 3 serves sync and async)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("database URL must look like postgresql://user@host/db")
    if scheme in {"postgresql", "postgres"}:
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"


def libpq_url(url: str) -> str:
    """The URL psycopg.connect() accepts (no SQLAlchemy driver suffix)."""
    scheme, _sep, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def make_async_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a restarted PostgreSQL must not poison the pool
        pool_recycle=1800,
        echo=echo,
        hide_parameters=True,  # error messages must not quote rows (names, ciphertexts)
    )


def make_sync_engine(url: str) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, hide_parameters=True)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (tests, embedded set-up)."""
    from sqlalchemy.engine import make_url

    rendered = make_url(sqlalchemy_url(url)).set(database=database)
    return libpq_url(rendered.render_as_string(hide_password=False))
