"""Which credentials a bulk operation covers, and the refusals that come before any work."""

from __future__ import annotations

import pytest

from services import fleet
from services.context import ServiceContext
from services.errors import Invalid, NotFound, Unavailable
from services.fleet import Selection
from tests.services.conftest import OPERATOR, Tenants


async def test_filters_narrow_the_callers_credentials(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    every = await fleet.select_credentials(ctx, OPERATOR, Selection())
    assert [c.id for c in every] == [tenants.credential_a, tenants.credential_b]
    only_b = await fleet.select_credentials(ctx, OPERATOR, Selection(company_id=tenants.company_b))
    assert [c.id for c in only_b] == [tenants.credential_b]
    assert await fleet.select_credentials(ctx, OPERATOR, Selection(environment="integration")) == []
    alice = tenants.admin_of_a()
    assert [c.id for c in await fleet.select_credentials(ctx, alice, Selection())] == [
        tenants.credential_a
    ]
    with pytest.raises(NotFound):
        await fleet.select_credentials(ctx, alice, Selection(company_id=tenants.company_b))
    with pytest.raises(Invalid, match="environment must be one of"):
        await fleet.select_credentials(ctx, OPERATOR, Selection(environment="staging"))


async def test_bad_values_and_a_missing_temporal_fail_once_before_any_credential(
    ctx: ServiceContext, tenants: Tenants
) -> None:
    seen: list[fleet.Outcome] = []
    with pytest.raises(Invalid, match="concurrency must be 1 to 50"):
        await fleet.sync_all(ctx, OPERATOR, Selection(), concurrency=0, report=seen.append)
    with pytest.raises(Invalid, match="data type"):
        await fleet.sync_all(ctx, OPERATOR, Selection(), data_type="quotes", report=seen.append)
    with pytest.raises(Unavailable):  # Temporal is down in this world
        await fleet.sync_all(ctx, OPERATOR, Selection(), report=seen.append)
    with pytest.raises(Invalid, match="not a duration"):
        await fleet.schedule_all(ctx, OPERATOR, Selection(), every="soon", report=seen.append)
    with pytest.raises(Invalid, match="exactly one of every and cron"):
        await fleet.schedule_all(ctx, OPERATOR, Selection(), report=seen.append)
    assert seen == []
    nobody = Selection(environment="integration")  # nothing chosen: Temporal is not needed
    assert await fleet.sync_all(ctx, OPERATOR, nobody) == []
