"""The outbox's consumer acknowledges rows: status ``acknowledged``, when and by whom.

A row of ``servicetitan_dispatch_outbox`` stays outstanding (``pending``, or ``dispatched``
when a downstream workflow was started) until the downstream consumer acknowledges it
(``starter.py outbox ack``). The downgrade turns acknowledged rows back into ``dispatched``
or ``pending`` (the old statuses) and drops the two columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTBOX = "servicetitan_dispatch_outbox"
STATUS = f"ck_{OUTBOX}_status"


def upgrade() -> None:
    op.add_column(
        OUTBOX,
        sa.Column(
            "acknowledged_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When the downstream consumer acknowledged the row (outbox ack)",
        ),
    )
    op.add_column(
        OUTBOX,
        sa.Column(
            "acknowledged_by",
            sa.String(length=255),
            nullable=True,
            comment="Who acknowledged it (db.audit actor)",
        ),
    )
    op.drop_constraint(op.f(STATUS), OUTBOX, type_="check")
    op.create_check_constraint(
        op.f(STATUS), OUTBOX, "status IN ('pending', 'dispatched', 'skipped', 'acknowledged')"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE {OUTBOX} SET status = CASE WHEN target_workflow_id IS NULL "  # noqa: S608
        "THEN 'pending' ELSE 'dispatched' END WHERE status = 'acknowledged'"
    )
    op.drop_constraint(op.f(STATUS), OUTBOX, type_="check")
    op.create_check_constraint(
        op.f(STATUS), OUTBOX, "status IN ('pending', 'dispatched', 'skipped')"
    )
    op.drop_column(OUTBOX, "acknowledged_by")
    op.drop_column(OUTBOX, "acknowledged_at")
