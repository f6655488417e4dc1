"""The voter: what each role may see and do, and how a refusal reads."""

from __future__ import annotations

import pytest

from services.access import Action, company_filter, require, visible
from services.errors import Forbidden, NotFound
from services.identity import Principal, Role

ADMIN = Principal("root", Role.ADMIN)
COMPANY_ADMIN = Principal("alice", Role.COMPANY_ADMIN, frozenset({1, 2}), token_id=4)
COMPANY_USER = Principal("ursula", Role.COMPANY_USER, frozenset({1}))


def test_admin_sees_every_company_and_lists_unfiltered() -> None:
    assert visible(ADMIN, 99) and visible(ADMIN, None)
    require(ADMIN, Action.MANAGE, 99)
    assert company_filter(ADMIN) is None


def test_company_roles_see_only_their_companies() -> None:
    assert visible(COMPANY_ADMIN, 2) and not visible(COMPANY_ADMIN, 3)
    assert not visible(COMPANY_USER, None)
    assert company_filter(COMPANY_ADMIN) == frozenset({1, 2})


def test_another_companys_object_reads_exactly_like_a_missing_one() -> None:
    with pytest.raises(NotFound) as other:
        require(COMPANY_ADMIN, Action.READ, 3, missing="no credential with id 5")
    assert str(other.value) == "no credential with id 5"
    # Even a role that may not manage gets NotFound, not Forbidden, for another company.
    with pytest.raises(NotFound):
        require(COMPANY_USER, Action.MANAGE, 2, missing="x")


def test_a_company_user_reads_but_may_not_manage() -> None:
    require(COMPANY_USER, Action.READ, 1)
    with pytest.raises(Forbidden):
        require(COMPANY_USER, Action.MANAGE, 1)
    require(COMPANY_ADMIN, Action.MANAGE, 1)


def test_the_audit_actor_names_the_identity() -> None:
    assert COMPANY_ADMIN.actor == "token:4:alice"
    assert COMPANY_USER.actor == "jwt:ursula"
    operator = Principal.operator("cli:bob@box")
    assert operator.actor == "cli:bob@box" and operator.role is Role.ADMIN
