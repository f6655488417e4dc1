"""Per-company and per-credential sync switches (the seed's feature flags).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("companies", "servicetitan_credentials")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("sync_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        )
        op.add_column(table, sa.Column("disabled_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "disabled_reason")
        op.drop_column(table, "sync_enabled")
