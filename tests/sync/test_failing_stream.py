"""A stream that fails while its next fetch is still downloading leaves nothing staged.

The workflow fetches the next batch while it applies the current one. When the apply fails,
that fetch must be over (cancelled and awaited) before ``finish_run`` removes the run's staged
pages: a fetch that finishes afterwards would stage pages that nothing ever removes.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.registry import all_activities
from contracts.sync import ApplyPagesInput, ApplyPagesResult, ErrorType
from runtime.worker import make_dependencies
from tests.sync.conftest import TENANT
from tests.sync.harness import HarnessFactory
from workflows import WORKFLOWS

LATENCY_SECONDS = 1.5


@activity.defn(name="map_and_insert_pages")
async def failing_apply(input: ApplyPagesInput) -> ApplyPagesResult:
    """Fails at once, while the fetch of the next batch is still downloading."""
    raise ApplicationError(
        "apply failed on purpose", type=ErrorType.ACCESS_DENIED, non_retryable=True
    )


async def test_a_failed_apply_cancels_the_running_fetch_before_the_run_is_closed(
    make_harness: HarnessFactory, temporal_client: Client
) -> None:
    async with make_harness(run_worker=False) as harness:
        deps = make_dependencies(
            harness.settings,
            harness.database,
            harness.client_config,
            temporal_client,
            http=harness.http,
        )
        real = [a for a in all_activities(deps) if a.__name__ != "map_and_insert_pages"]
        worker = Worker(
            temporal_client,
            task_queue=harness.task_queue,
            workflows=WORKFLOWS,
            activities=[*real, failing_apply],
        )
        async with worker:
            credential = await harness.add_tenant(TENANT)
            harness.sandbox.set_faults(latency_seconds=LATENCY_SECONDS)
            handle = await harness.start(credential, data_type="invoices")
            with pytest.raises(WorkflowFailureError):
                await handle.result()
            sync_log_id = harness.scalar(
                "SELECT id FROM servicetitan_sync_logs WHERE credential_id = %s", credential
            )
            # Long enough for a fetch the workflow forgot about to download and stage its pages.
            await asyncio.sleep(3 * LATENCY_SECONDS + 1)

    staged = harness.scalar(
        "SELECT count(*) FROM servicetitan_staged_pages WHERE sync_log_id = %s", sync_log_id
    )
    assert staged == 0, f"{staged} pages staged after the run was closed"
    assert (
        harness.scalar("SELECT status FROM servicetitan_sync_logs WHERE id = %s", sync_log_id)
        == "failed"
    )
