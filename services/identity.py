"""Who is calling: a role, the companies it acts for, and the name the audit log records.

An API token, a platform JWT and the operator's CLI all end up as one ``Principal``; the
voter (``services.access``) looks at nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # every company, plus tokens and companies
    COMPANY_ADMIN = "company_admin"  # manages credentials, syncs, schedules of its companies
    COMPANY_USER = "company_user"  # reads status, history, dashboard of its companies


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    company_ids: frozenset[int] = frozenset()
    token_id: int | None = None
    is_operator: bool = False  # the CLI on a machine holding the keys: ``subject`` is its actor

    @classmethod
    def operator(cls, actor: str) -> Principal:
        """The CLI's identity: admin, audited as the OS user (``db.audit.default_actor``)."""
        return cls(subject=actor, role=Role.ADMIN, is_operator=True)

    @property
    def actor(self) -> str:
        """The audit log's ``actor``: ``token:<id>:<name>``, ``jwt:<sub>`` or the OS user."""
        if self.is_operator:
            return self.subject
        if self.token_id is not None:
            return f"token:{self.token_id}:{self.subject}"
        return f"jwt:{self.subject}"
