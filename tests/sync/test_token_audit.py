"""Token requests in the audit log: a failure is recorded once, not once per retry."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.tokens import TokenActivities
from contracts.sync import RefreshTokenInput
from sandbox import endpoints
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness


def _failed_rows(harness: SyncHarness) -> int:
    return int(harness.scalar("SELECT count(*) FROM audit_log WHERE action = 'token.failed'"))


async def test_a_token_endpoint_that_keeps_failing_is_audited_once_per_refresh(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(
        error_rate=1.0, error_statuses=(503,), endpoints=frozenset({endpoints.TOKEN})
    )
    activities = TokenActivities(harness.dependencies())
    env = ActivityEnvironment()
    for attempt in (1, 2, 3):  # the retries of one refresh
        env.info = dataclasses.replace(env.info, attempt=attempt)
        with pytest.raises(ApplicationError) as failed:
            await env.run(activities.refresh_token, RefreshTokenInput(credential))
        assert not failed.value.non_retryable
    assert _failed_rows(harness) == 1


async def test_rejected_credentials_are_audited_on_any_attempt(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT, secret="cs1.not-the-secret")
    activities = TokenActivities(harness.dependencies())
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=4)
    with pytest.raises(ApplicationError) as failed:
        await env.run(activities.refresh_token, RefreshTokenInput(credential))
    assert failed.value.non_retryable
    assert _failed_rows(harness) == 1
