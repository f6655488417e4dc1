"""API tokens for the HTTP API: stored as SHA-256 hashes, with role, companies and lifetime.

The downgrade drops the table (every issued token stops working).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENS = "api_tokens"


def upgrade() -> None:
    op.create_table(
        TOKENS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "token_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 (hex) of the token; the token is never stored",
        ),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.Column(
            "company_ids",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{}'"),
            nullable=False,
            comment="Companies it acts for (admin: none)",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'company_admin', 'company_user')", name=op.f(f"ck_{TOKENS}_role")
        ),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f(f"ck_{TOKENS}_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TOKENS}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{TOKENS}_token_hash")),
    )


def downgrade() -> None:
    op.drop_table(TOKENS)
