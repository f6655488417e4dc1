"""Ciphertexts are bound to their row and column, end to end.

With write access to the credentials table but no key, copying credential A's client secret
into credential B must not make B sync A's tenant into B's company: B's sync fails at once,
non-retryable, naming what could not be decrypted, and never asks ServiceTitan for a token.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contracts.sync import ErrorType
from db import credentials
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness


async def test_a_secret_copied_from_another_credential_fails_the_sync_at_once(
    harness: SyncHarness,
) -> None:
    a = await harness.add_tenant(TENANT)
    spec = harness.sandbox.config.tenant(TENANT)
    async with harness.database.transaction() as connection:
        company = await credentials.add_company(
            connection, name="Other Co", intacct_id="OTHER", primary_trade="HVAC", actor="test"
        )
        b = await credentials.add_credential(
            connection,
            harness.worker_box,
            company_id=company,
            tenant_id=str(TENANT),
            client_id=spec.client_id,
            client_secret="cs1.b-own-secret-value",
            environment="production",
            actor="test",
        )
    with psycopg.connect(harness.database_url, autocommit=True) as raw:
        raw.execute(
            "UPDATE servicetitan_credentials SET client_secret = "
            "(SELECT client_secret FROM servicetitan_credentials WHERE id = %s) WHERE id = %s",
            (a, b),
        )
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.sync(b)
    assert time.monotonic() - started < 20
    cause: BaseException | None = failure.value.cause
    while isinstance(cause, BaseException) and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    assert isinstance(cause, ApplicationError), failure.value
    assert cause.type == ErrorType.DECRYPTION
    assert f"client_secret of credential {b}" in cause.message
    assert harness.sandbox.counters.token_requests == 0
    assert harness.scalar("SELECT count(*) FROM members_stream") == 0
    (status,) = harness.rows("SELECT status, error_message FROM servicetitan_sync_logs")
    assert status[0] == "failed" and f"credential {b}" in status[1]
