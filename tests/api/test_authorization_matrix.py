"""Every endpoint × every identity × own company / other company / missing object.

Identities: an admin, a company admin and a company user of company A (API tokens), company
A's user as the platform's JWT, and six that must not get in: no token, an API token never
issued, an expired one, a revoked one, an expired JWT and a JWT signed by another key. Targets: an
object of A ("own"), of B ("other"), an id nothing has ("missing"); list endpoints without an
object have one column ("-"). The rule (``expected``): no identity → 401; missing → 404;
admin → success; another company's object → 404 (the same answer as a missing one); a
company user's write on its own company → 403; otherwise success. The few documented
exceptions are in ``Endpoint.overrides``. Every error is a problem document, and no answer to
A's identities names company B. Cells that change something act on a credential made for
the cell (``World.throwaway``), removed afterwards, so nothing leaks from one cell to the next.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from api.openapi import DOCUMENT_PATH
from tests.api.server import PREFIX, ApiClient, assert_problem
from tests.api.world import MISSING_ID, TENANT_SPARE, World, client_id_of, secret_of

Identity = str
Target = Literal["own", "other", "missing", "-"]
UNAUTHENTICATED = (
    "no token", "bad token", "expired token", "revoked token", "expired jwt", "forged jwt",
)  # fmt: skip
IDENTITIES = ("admin", "company_admin", "company_user", "jwt company_user", *UNAUTHENTICATED)
A_SCOPED = ("company_admin", "company_user", "jwt company_user")
READ_ONLY = ("company_user", "jwt company_user")


@dataclass(frozen=True)
class Endpoint:
    """``{id}`` in ``path`` or ``query`` values is replaced by the target's id."""

    method: str
    path: str
    success: int = 200
    need: Literal["read", "manage"] = "read"
    scope: Literal["credential", "company", "none"] = "credential"
    query: dict[str, str] = field(default_factory=dict)
    body: Callable[[int], Any] | None = None
    changes: bool = False
    """A success changes the target: the cell gets a credential of its own."""
    schedule: bool = False
    """The cell's credential needs a schedule."""
    overrides: dict[tuple[Identity, Target], int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        query = "&".join(f"{key}={value}" for key, value in self.query.items())
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    @property
    def targets(self) -> tuple[Target, ...]:
        return ("-",) if self.scope == "none" else ("own", "other", "missing")


def _new_credential(company_id: int) -> dict[str, Any]:
    return {
        "tenantId": str(TENANT_SPARE),
        "clientId": client_id_of(TENANT_SPARE),
        "clientSecret": secret_of(TENANT_SPARE),
        "environment": "integration",
        "companyId": company_id,
    }


def _same(status: int, *cells: tuple[Identity, Target]) -> dict[tuple[Identity, Target], int]:
    return dict.fromkeys(cells, status)


CREDENTIAL = "/credentials/{id}"
ENDPOINTS = [
    Endpoint("GET", "/credentials/metadata", scope="none"),
    Endpoint("GET", "/credentials", scope="none"),
    Endpoint("GET", "/credentials", scope="company", query={"companyId": "{id}"},
             overrides=_same(200, ("admin", "missing"))),
    Endpoint("POST", "/credentials", 201, "manage", "company", body=_new_credential, changes=True),
    Endpoint("GET", CREDENTIAL),
    Endpoint("PUT", CREDENTIAL, need="manage", changes=True,
             body=lambda _id: {"clientSecret": secret_of(TENANT_SPARE)}),
    Endpoint("DELETE", CREDENTIAL, need="manage", changes=True),
    Endpoint("POST", CREDENTIAL + "/test", need="manage", changes=True),
    Endpoint("POST", "/sync/{id}", 202, "manage", body=lambda _id: {"syncType": "both"},
             changes=True),
    Endpoint("GET", "/sync/status/{id}"),
    Endpoint("GET", "/sync/history", scope="none"),
    Endpoint("GET", "/sync/history", query={"credentialId": "{id}"}),
    Endpoint("GET", "/sync/history", scope="company", query={"companyId": "{id}"},
             overrides=_same(200, ("admin", "missing"))),
    Endpoint("GET", "/sync/schedules", scope="none"),
    Endpoint("PUT", "/sync/schedule/{id}", need="manage", changes=True,
             body=lambda _id: {"every": "720h"}),
    Endpoint("DELETE", "/sync/schedule/{id}", need="manage", changes=True, schedule=True),
    Endpoint("POST", "/sync/schedule/{id}/pause", need="manage", changes=True, schedule=True),
    Endpoint("POST", "/sync/schedule/{id}/resume", need="manage", changes=True, schedule=True),
    Endpoint("POST", "/sync/schedule/{id}/trigger", need="manage", changes=True, schedule=True),
    Endpoint("GET", "/dashboard", scope="none"),
    Endpoint("GET", "/alerts", scope="none"),
    Endpoint("GET", "/rejects", scope="none"),
    Endpoint("GET", "/rejects", query={"credentialId": "{id}"}),
    Endpoint(
        "GET", "/rejects", need="manage", query={"credentialId": "{id}", "includeRaw": "true"},
        # Refused for the role before any id is looked at: the same answer whatever the id.
        overrides=_same(403, *((i, t) for i in READ_ONLY for t in ("other", "missing"))),
    ),
    Endpoint("GET", "/rejects/warnings", scope="none"),
    Endpoint("GET", "/rejects/warnings", query={"credentialId": "{id}"}),
    Endpoint("GET", "/reconcile/{id}", need="manage", query={"sample": "5"}),
    Endpoint("GET", "/audit", need="manage", scope="none"),
    Endpoint("GET", "/audit", need="manage", scope="company", query={"companyId": "{id}"},
             overrides=_same(200, ("admin", "missing"))),
    Endpoint("GET", "/audit", need="manage", query={"credentialId": "{id}"},
             # An admin may read a deleted credential's trail: an unknown id is an empty page.
             overrides=_same(200, ("admin", "missing"))),
]  # fmt: skip


def expected(endpoint: Endpoint, identity: Identity, target: Target) -> int:
    if identity in UNAUTHENTICATED:
        return 401
    if (identity, target) in endpoint.overrides:
        return endpoint.overrides[(identity, target)]
    if target == "missing":
        return 404
    if identity == "admin":
        return endpoint.success
    if target == "other":
        return 404
    if identity in READ_ONLY and endpoint.need == "manage":
        return 403
    return endpoint.success


CELLS = [
    pytest.param(endpoint, identity, target, id=f"{endpoint.name} | {identity} | {target}")
    for endpoint in ENDPOINTS
    for identity in IDENTITIES
    for target in endpoint.targets
]


async def _target_id(endpoint: Endpoint, target: Target, world: World) -> int | None:
    """The id the cell sends, making a credential of its own when the cell may change one."""
    if target == "-":
        return None
    if target == "missing":
        return MISSING_ID
    company = world.company_a if target == "own" else world.company_b
    if endpoint.scope == "company":
        return company
    if endpoint.changes:
        return await world.throwaway(company, schedule=endpoint.schedule)
    return world.credential_a if target == "own" else world.credential_b


def _send(client: ApiClient, endpoint: Endpoint, target_id: int | None) -> Any:
    def fill(value: str) -> str:
        return value.replace("{id}", str(target_id))

    return client.request(
        endpoint.method,
        PREFIX + fill(endpoint.path),
        params={key: fill(value) for key, value in endpoint.query.items()} or None,
        json_body=endpoint.body(target_id or 0) if endpoint.body else None,
    )


@pytest.mark.parametrize(("endpoint", "identity", "target"), CELLS)
async def test_cell(
    endpoint: Endpoint,
    identity: Identity,
    target: Target,
    world: World,
    client_for: Callable[[str], ApiClient],
) -> None:
    target_id = await _target_id(endpoint, target, world)
    made = (
        [target_id]
        if endpoint.changes and endpoint.scope == "credential" and target in ("own", "other")
        else []
    )
    try:
        response = _send(client_for(identity), endpoint, target_id)
        if (
            endpoint.method == "POST"
            and endpoint.path == "/credentials"
            and response.status_code == 201
        ):
            made.append(response.json()["id"])
        status = expected(endpoint, identity, target)
        if status >= 400:
            problem = assert_problem(response, status)
            if status == 401:
                assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
                assert problem["type"].endswith("/unauthorized")
            if status == 403:
                assert problem["type"].endswith("/forbidden")
            if status == 404:
                assert problem["type"].endswith("/not-found")
        else:
            assert response.status_code == status, response.text[:500]
        if identity != "admin" and response.content:
            assert world.leaks(response.json()) == [], response.text[:800]
    finally:
        for credential_id in made:
            if credential_id is not None:
                await world.discard(credential_id)


# --- what makes the cells meaningful ---------------------------------------------------------

LISTS: list[tuple[str, dict[str, str]]] = [
    ("/credentials", {}),
    ("/sync/history", {}),
    ("/sync/schedules", {}),
    ("/dashboard", {}),
    ("/alerts", {}),
    ("/rejects", {}),
    ("/audit", {}),
]


@pytest.mark.parametrize(("path", "params"), LISTS, ids=[path for path, _ in LISTS])
async def test_every_list_holds_both_companies_for_the_admin_and_only_a_for_company_a(
    path: str, params: dict[str, str], world: World, client_for: Callable[[str], ApiClient]
) -> None:
    """B's rows exist in each list (the admin sees them), so their absence for A's
    identities, checked by every cell, is a real filter and not an empty list."""
    await world.schedule_both()
    everything = client_for("admin").get(PREFIX + path, params=params)
    assert everything.status_code == 200, everything.text[:300]
    assert world.leaks(everything.json()), f"the admin's {path} shows nothing of company B"
    own = client_for("company_admin").get(PREFIX + path, params=params)
    assert own.status_code == 200, own.text[:300]
    assert world.shows_a(own.json()), f"company A sees nothing of its own in {path}"
    assert world.leaks(own.json()) == []


@pytest.mark.parametrize(
    "endpoint",
    [e for e in ENDPOINTS if e.scope == "credential" and not e.changes],
    ids=lambda e: e.name,
)
@pytest.mark.parametrize("identity", A_SCOPED)
def test_another_companys_object_reads_exactly_as_a_missing_one(
    endpoint: Endpoint, identity: Identity, world: World, client_for: Callable[[str], ApiClient]
) -> None:
    """No existence oracle: the bodies differ only in the id the caller sent."""
    client = client_for(identity)
    other = _send(client, endpoint, world.credential_b)
    missing = _send(client, endpoint, MISSING_ID)
    assert other.status_code == missing.status_code
    normalise = {str(world.credential_b): "ID", str(MISSING_ID): "ID"}

    def anonymous(text: str) -> str:
        return re.sub(r"\d+", lambda m: normalise.get(m.group(0), m.group(0)), text)

    assert anonymous(other.text) == anonymous(missing.text)
    assert other.headers.get("content-type") == missing.headers.get("content-type")


def test_the_matrix_covers_every_documented_operation() -> None:
    """A new endpoint fails here until it has its row in ``ENDPOINTS``."""
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    documented = {
        (method.upper(), shape(path))
        for path, item in document["paths"].items()
        if path.startswith(PREFIX + "/")
        for method in item
    }
    covered = {(e.method, shape(PREFIX + e.path)) for e in ENDPOINTS}
    assert documented - covered == set(), "operations without a row in the matrix"
    assert covered - documented == set(), "rows for operations the API does not have"


def test_a_company_user_gets_rejects_without_their_raw_records(
    world: World, client_for: Callable[[str], ApiClient]
) -> None:
    params = {"credentialId": str(world.credential_a)}
    managed = client_for("company_admin").get(f"{PREFIX}/rejects", params=params).json()
    read = client_for("company_user").get(f"{PREFIX}/rejects", params=params).json()
    assert managed and [r["id"] for r in read] == [r["id"] for r in managed]
    assert all(r["raw"] for r in managed), "a company admin sees the raw records"
    assert all(r["raw"] is None for r in read)
