"""Bulk onboarding's rules: the CSV's columns, the secrets file's mode, and every row checked
before anything is created (one bad row: nothing created, every problem reported)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from db.database import Database
from services import fleet_import
from services.context import ServiceContext
from services.errors import Forbidden, Invalid
from tests.services.conftest import OPERATOR, Tenants

SECRETS = "client_id,client_secret\ncid.one,cs1.one\n# a comment\n\ncid.two , cs1.two\n"


def test_the_csv_header_is_forgiving_and_required() -> None:
    rows = fleet_import.parse_rows(
        "\ufeffCompany,Tenant,Client ID,environment\n1, 1001 ,cid.one,production\n\n"
        "CO-B,1002,cid.two,integration\n"
    )
    assert [(r.line, r.company, r.tenant_id, r.client_id, r.environment) for r in rows] == [
        (2, "1", "1001", "cid.one", "production"),
        (4, "CO-B", "1002", "cid.two", "integration"),
    ]
    with pytest.raises(Invalid, match="lacks client_id, environment"):
        fleet_import.parse_rows("company,tenant\n1,1001\n")
    with pytest.raises(Invalid, match="no credential rows"):
        fleet_import.parse_rows("company,tenant,client_id,environment\n")


def test_secrets_are_client_id_and_secret_lines_never_echoed() -> None:
    assert fleet_import.parse_secrets(SECRETS) == {"cid.one": "cs1.one", "cid.two": "cs1.two"}
    with pytest.raises(Invalid) as bad:
        fleet_import.parse_secrets("cs1.a-lonely-secret\n")
    assert "line 1" in bad.value.message and "cs1.a-lonely-secret" not in bad.value.message
    with pytest.raises(Invalid, match="a second secret"):
        fleet_import.parse_secrets("cid.one,a\ncid.one,b\n")


def test_a_secrets_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.csv"
    path.write_text(SECRETS)
    for mode in (0o644, 0o640, 0o604, 0o660):
        os.chmod(path, mode)
        with pytest.raises(Invalid, match=f"readable by others \\(mode {mode:o}\\)"):
            fleet_import.read_secrets_file(path)
    os.chmod(path, 0o600)
    assert fleet_import.read_secrets_file(path)["cid.two"] == "cs1.two"
    os.chmod(path, 0o400)
    assert len(fleet_import.read_secrets_file(path)) == 2
    with pytest.raises(Invalid, match="cannot read"):
        fleet_import.read_secrets_file(tmp_path / "missing")


async def _credential_count(database: Database) -> int:
    async with database.transaction() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM servicetitan_credentials")))


async def test_one_bad_row_creates_nothing_and_every_problem_is_named(
    ctx: ServiceContext, database: Database, tenants: Tenants
) -> None:
    rows = fleet_import.parse_rows(
        "company,tenant,client_id,environment\n"
        f"{tenants.company_a},1001,cid.one,integration\n"  # fine on its own
        f"CO-B,12x,cid.two,integration\n"  # tenant not numeric
        f"{tenants.company_a},1003,cid.three,integration\n"  # A's integration twice in the file
        f"{tenants.company_b},1004,cid.four,production\n"  # B has a production one already
        "NOPE,1005,cid.five,staging\n"  # unknown company, bad environment, no secret
    )
    secrets = {"cid.one": "s1", "cid.two": "s2", "cid.three": "s3", "cid.four": "s4"}
    report = await fleet_import.import_credentials(ctx, OPERATOR, rows, secrets)
    assert not report.imported and report.results == []
    assert report.problems == [
        "line 3: tenant must be ServiceTitan's numeric tenant id (got '12x')",
        f"line 4: line 2 already adds the integration credential of company {tenants.company_a}",
        f"line 5: company {tenants.company_b} already has a production credential "
        f"(#{tenants.credential_b}; one per company and environment)",
        "line 6: no company 'NOPE'",
        "line 6: environment must be one of integration, production (got 'staging')",
        "line 6: no client secret for client id 'cid.five' in the secrets",
    ]
    assert await _credential_count(database) == 2


async def test_a_company_sees_only_its_own_companies_and_users_may_not_import(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    rows = fleet_import.parse_rows(
        "company,tenant,client_id,environment\nCO-B,1001,cid.one,integration\n"
    )
    report = await fleet_import.import_credentials(
        ctx, tenants.admin_of_a(), rows, {"cid.one": "s"}
    )
    assert report.problems == ["line 2: no company 'CO-B'"]
    with pytest.raises(Forbidden):
        await fleet_import.import_credentials(ctx, tenants.user_of_a(), rows, {"cid.one": "s"})
