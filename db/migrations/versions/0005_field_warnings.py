"""Field warnings, and replayed rejects kept as resolved.

A record with an invalid optional field now lands with that field NULL; the problem is kept in
``servicetitan_field_warnings`` and counted in the sync log (``field_warnings``). A reject that
a replay applied is marked ``resolved_at``/``resolved_by`` instead of being deleted. The
downgrade drops the table and the columns (the warnings and the resolution marks are lost).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WARNINGS = "servicetitan_field_warnings"
REJECTS = "servicetitan_rejected_records"
LOGS = "servicetitan_sync_logs"


def upgrade() -> None:
    op.create_table(
        WARNINGS,
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "credential_id",
            sa.Integer(),
            nullable=True,
            comment="NULL once the credential is deleted; the warning stays",
        ),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("sync_log_id", sa.Integer(), nullable=True),
        sa.Column("stream", sa.String(length=50), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("column_name", sa.String(length=100), nullable=False),
        sa.Column(
            "value_prefix",
            sa.String(length=64),
            nullable=False,
            comment="The start of the offending value, ASCII-escaped; never all of it",
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "warned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "stream IN ('customers', 'customer_contacts', 'invoices')",
            name=op.f(f"ck_{WARNINGS}_stream"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f(f"fk_{WARNINGS}_company_id")
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["servicetitan_credentials.id"],
            name=op.f(f"fk_{WARNINGS}_credential_id"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sync_log_id"],
            [f"{LOGS}.id"],
            name=op.f(f"fk_{WARNINGS}_sync_log_id"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{WARNINGS}")),
    )
    op.create_index(
        op.f(f"ix_{WARNINGS}_credential_id_warned_at"), WARNINGS, ["credential_id", "warned_at"]
    )
    op.add_column(
        LOGS,
        sa.Column(
            "field_warnings",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Fields stored as NULL (servicetitan_field_warnings)",
        ),
    )
    op.add_column(
        REJECTS,
        sa.Column(
            "resolved_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a replay applied the record (it is kept, no longer listed by default)",
        ),
    )
    op.add_column(
        REJECTS,
        sa.Column(
            "resolved_by",
            sa.String(length=255),
            nullable=True,
            comment="Who replayed it: the operator or process (db.audit actor)",
        ),
    )


def downgrade() -> None:
    op.drop_column(REJECTS, "resolved_by")
    op.drop_column(REJECTS, "resolved_at")
    op.drop_column(LOGS, "field_warnings")
    op.drop_index(op.f(f"ix_{WARNINGS}_credential_id_warned_at"), table_name=WARNINGS)
    op.drop_table(WARNINGS)
