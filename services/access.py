"""The voter: may this principal read or manage this company's objects?

Another company's object is answered with ``NotFound``, worded exactly as for a missing one,
so ids cannot be probed; a visible object the role may not change is ``Forbidden``.
"""

from __future__ import annotations

from enum import StrEnum

from services.errors import Forbidden, NotFound
from services.identity import Principal, Role


class Action(StrEnum):
    READ = "read"
    MANAGE = "manage"


def visible(principal: Principal, company_id: int | None) -> bool:
    """True when the principal may see the company's objects (admin: every company).

    ``company_id`` None (an object whose company is unknown) is visible to admins only.
    """
    if principal.role is Role.ADMIN:
        return True
    return company_id is not None and company_id in principal.company_ids


def may(principal: Principal, action: Action) -> bool:
    """Whether the role allows ``action`` at all (on a company it sees)."""
    return action is Action.READ or principal.role in (Role.ADMIN, Role.COMPANY_ADMIN)


def require(
    principal: Principal, action: Action, company_id: int | None, *, missing: str = "not found"
) -> None:
    """Raise ``NotFound(missing)`` when the company is not the principal's, ``Forbidden`` when
    its role may not do ``action``. ``missing`` is the message a missing object gets."""
    if not visible(principal, company_id):
        raise NotFound(missing)
    if not may(principal, action):
        raise Forbidden(f"role {principal.role} may not {action} this")


def require_admin(principal: Principal, what: str) -> None:
    """Operations on no single company (tokens, adding companies) are the admin's."""
    if principal.role is not Role.ADMIN:
        raise Forbidden(f"only an admin may {what}")


def company_filter(principal: Principal) -> frozenset[int] | None:
    """The companies a list query is limited to; None means every company (admin)."""
    return None if principal.role is Role.ADMIN else principal.company_ids
