"""The ServiceTitan rate limit is shared by every worker process, through PostgreSQL.

``servicetitan_rate_limits`` holds one GCRA state per (app key digest, tenant): the time the
next request is due. ``UNLOGGED``, as the staged pages: the state is worth a second of pacing
and is rebuilt by the next request. The downgrade drops the table (workers of the previous
release pace per process again).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMITS = "servicetitan_rate_limits"


def upgrade() -> None:
    op.create_table(
        LIMITS,
        sa.Column(
            "app_key_digest",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 (hex, first 16 digits) of the ST-App-Key; the key is never stored",
        ),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False, comment="ServiceTitan tenant id"),
        sa.Column(
            "theoretical_arrival",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the next request is due at the steady rate (database clock)",
        ),
        sa.PrimaryKeyConstraint("app_key_digest", "tenant_id", name=op.f(f"pk_{LIMITS}")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table(LIMITS)
