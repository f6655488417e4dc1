"""Audit trail: who did what to which credential, and when. Never a secret in ``details``."""

from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core.redact import redact_value
from db.schema import AuditLog


def default_actor() -> str:
    """``user@host`` for the CLI; workers pass ``worker:<identity>`` instead."""
    try:
        user = getpass.getuser()
    except OSError:
        user = str(os.getuid())
    return f"cli:{user}@{os.uname().nodename}"


async def record(
    connection: AsyncConnection,
    action: str,
    *,
    actor: str,
    company_id: int | None = None,
    credential_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await connection.execute(
        insert(AuditLog).values(
            actor=actor,
            action=action,
            company_id=company_id,
            credential_id=credential_id,
            details=redact_value(details or {}),
        )
    )
