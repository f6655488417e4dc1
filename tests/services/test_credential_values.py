"""Values a credential may hold, checked once in the service layer for the CLI and the API."""

from __future__ import annotations

import pytest

from services import credentials
from services.context import ServiceContext
from services.errors import Invalid
from tests.services.conftest import Tenants


@pytest.mark.parametrize("client_id", ["cid.\x00evil", "cid.line\nbreak", "   "])
async def test_a_client_id_with_control_characters_or_blank_is_refused(
    ctx: ServiceContext, tenants: Tenants, client_id: str
) -> None:
    admin = tenants.admin_of_a()
    with pytest.raises(Invalid) as refused:
        await credentials.create_credential(
            ctx,
            admin,
            company_id=tenants.company_a,
            tenant_id="3003",
            client_id=client_id,
            client_secret="cs1.x-0001",
            environment="integration",
        )
    assert refused.value.field == "client_id"
    with pytest.raises(Invalid):
        await credentials.update_credential(ctx, admin, tenants.credential_a, client_id=client_id)
