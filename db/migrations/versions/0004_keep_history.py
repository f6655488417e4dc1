"""Deleting a credential keeps its history: runs, rejects and hand-offs lose only the link.

Before, ``ON DELETE CASCADE`` removed a deleted credential's sync logs, quarantined records and
outbox rows with it. Now their ``credential_id`` becomes NULL and the rows stay: each run still
reaches its company through its import job (``import_job_id``), rejects and outbox rows carry
``company_id`` themselves. Cursors and staged pages still go with the credential: they mean
nothing without it. The downgrade deletes the rows the old schema cannot hold (those whose
credential is gone) and restores the cascades.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDENTIALS = "servicetitan_credentials"
# Children first on the way down: the outbox hangs off the sync logs too. The comments are
# those of db/schema.py.
HISTORY = {
    "servicetitan_dispatch_outbox": "NULL once the credential is deleted; the hand-off stays",
    "servicetitan_rejected_records": "NULL once the credential is deleted; the record stays",
    "servicetitan_sync_logs": (
        "NULL once the credential is deleted; the run stays, with its import job"
    ),
}


def _refer(table: str, ondelete: str) -> None:
    name = f"fk_{table}_credential_id"
    op.drop_constraint(name, table, type_="foreignkey")
    op.create_foreign_key(name, table, CREDENTIALS, ["credential_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    for table, comment in HISTORY.items():
        op.alter_column(table, "credential_id", nullable=True, comment=comment)
        _refer(table, "SET NULL")


def downgrade() -> None:
    for table, comment in HISTORY.items():
        op.execute(f"DELETE FROM {table} WHERE credential_id IS NULL")  # noqa: S608
        op.alter_column(
            table, "credential_id", nullable=False, comment=None, existing_comment=comment
        )
        _refer(table, "CASCADE")
