"""Incremental and full syncs, faults, bad credentials, continue-as-new, one sync at a time."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from contracts import search_attributes as sa
from contracts.sync import LaunchInput, SyncInput
from sandbox import endpoints
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness, stored_invoices, stored_members, truncate_staged_pages
from workflows.launcher import ScheduledSyncWorkflow
from workflows.stream_run import MAX_FETCHED_AHEAD
from workflows.sync import SyncWorkflow, workflow_id_for


async def test_incremental_sync_fetches_only_new_pages_and_applies_changes(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    counters = harness.sandbox.counters
    served_before = sum(counters.pages_served.values())

    summary = harness.sandbox.mutate(TENANT, modify=7, add=5, deactivate=3, merge=2, contacts=6)
    result = await harness.sync(credential)

    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
    # Only the tail holding the changes was read: a handful of pages, not the whole feed.
    new_pages = sum(counters.pages_served.values()) - served_before
    assert new_pages <= 6, new_pages
    assert counters.refetched() == {}
    changed = {s.stream: s for s in result.streams}
    assert changed["invoices"].inserted == len(summary.invoices.added)
    assert changed["invoices"].records == len(
        set(summary.invoices.added)
        | set(summary.invoices.modified)
        | set(summary.invoices.deactivated)
    )
    assert result.records_rejected == 0


async def test_an_incremental_sync_whose_changes_fit_one_page_asks_for_no_count(
    harness: SyncHarness,
) -> None:
    """The page says how many records there are: a count request would only repeat it."""
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    harness.sandbox.mutate(TENANT, modify=3, add=2, contacts=2)
    harness.sandbox.counters.reset()

    result = await harness.sync(credential)

    assert result.status == "completed"
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
    requests = harness.sandbox.counters.requests
    assert requests[endpoints.INVOICES] == requests[endpoints.CUSTOMERS] == 0, requests
    assert requests[endpoints.EXPORT_INVOICES] == 1  # one page held every change


async def test_a_full_resync_leaves_the_tables_identical_to_a_fresh_sync(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    harness.sandbox.mutate(TENANT, modify=5, add=4, merge=1, contacts=4)
    await harness.sync(credential)
    before = (stored_members(harness, TENANT), stored_invoices(harness, TENANT))

    result = await harness.sync(credential, mode="full")

    assert result.status == "completed"
    assert (stored_members(harness, TENANT), stored_invoices(harness, TENANT)) == before
    assert before == (harness.expected_members(TENANT), harness.expected_invoices(TENANT))
    # Everything was read again and nothing needed changing.
    streams = {s.stream: s for s in result.streams}
    assert streams["invoices"].inserted == streams["invoices"].updated == 0
    assert streams["customers"].unchanged == len(before[0])


async def test_sync_survives_rate_limits_server_errors_and_token_expiry(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    sandbox = harness.sandbox
    sandbox.set_faults(error_rate=0.15, token_ttl_seconds=2)
    sandbox.force_429(count=6, retry_after=1)

    started = time.monotonic()
    result = await harness.sync(credential)

    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
    # 429 waits do not inflate the 5xx backoff (a 502 after six 429s waits 1 s, not 64 s).
    assert time.monotonic() - started < 45
    assert sandbox.counters.rate_limited >= 6
    assert sum(sandbox.counters.faults.values()) > 0
    assert sandbox.counters.tokens_issued >= 2  # the short-lived token was replaced
    assert sum(s.rate_limit_waits for s in result.streams) >= 1


async def test_invalid_credentials_fail_fast_with_a_readable_error(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT, secret="cs1.wrong-secret")
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.sync(credential)
    assert time.monotonic() - started < 20
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CredentialsRejected"
    message = cause.message
    assert "rejected" in message.lower() or "invalid_client" in message
    assert "wrong-secret" not in message
    log = harness.rows("SELECT status, error_message FROM servicetitan_sync_logs")
    assert log[0][0] == "failed" and log[0][1] == message
    status = harness.rows("SELECT connection_status, last_error FROM servicetitan_credentials")
    assert status == [("error", message)]
    assert harness.sandbox.counters.token_requests <= 2  # no endless retries


async def test_credentials_revoked_mid_sync_fail_the_run_with_nothing_half_applied(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(latency_seconds=0.05)
    handle = await harness.start(credential)
    while harness.sandbox.counters.pages_served.total() < 4:
        await asyncio.sleep(0.05)
    spec = harness.sandbox.config.tenant(TENANT)
    harness.sandbox.revoke(spec.client_id)
    harness.sandbox.expire_tokens(spec.client_id)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    # Every applied page is whole: the rows match the page counts recorded with the cursor.
    applied = harness.scalar(
        "SELECT coalesce(sum(records_applied), 0) FROM servicetitan_sync_state"
    )
    rows = (
        harness.scalar("SELECT count(*) FROM members_stream")
        + harness.scalar("SELECT count(*) FROM servicetitan_customer_contacts")
        + harness.scalar("SELECT count(*) FROM invoices_stream")
    )
    assert rows == applied and applied % 50 == 0


async def test_continue_as_new_keeps_history_bounded(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    handle = await harness.start(credential, pages_before_continue_as_new=3)
    result = await handle.result()
    assert result.status == "completed"
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
    assert harness.sandbox.counters.refetched() == {}
    runs = 0
    query = f"WorkflowId = '{workflow_id_for(credential)}' AND TaskQueue = '{harness.task_queue}'"
    async for execution in harness.client.list_workflows(query):
        runs += 1
        history = await harness.client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).fetch_history()
        completed = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        ]
        # Per run: its 3 applied pages, each stream's fetches (one ahead of its applies, or a
        # run's worth while invoices wait for customers), start, token, dispatch and finish.
        assert len(completed) <= 3 + 3 * (1 + MAX_FETCHED_AHEAD) + 4
    pages = sum(s.pages for s in result.streams)
    assert runs >= pages // 3
    assert harness.scalar("SELECT count(*) FROM servicetitan_sync_logs") == 1


async def test_only_one_sync_per_credential_runs_at_a_time(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(latency_seconds=0.05)
    first = await harness.start(credential)
    with pytest.raises(WorkflowAlreadyStartedError):
        await harness.start(credential)
    # A scheduled launch while the manual sync runs is skipped, not queued.
    launched = await harness.client.execute_workflow(
        ScheduledSyncWorkflow.run,
        LaunchInput(credential_id=credential),
        id=f"launch-{credential}-{harness.task_queue}",
        task_queue=harness.task_queue,
    )
    assert not launched.started
    assert launched.workflow_id == first.id == workflow_id_for(credential)
    # Attaching instead of starting is how the CLI reports "already running".
    attached = await harness.client.start_workflow(
        SyncWorkflow.run,
        SyncInput(credential_id=credential),
        id=workflow_id_for(credential),
        task_queue=harness.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    assert attached.result_run_id == first.result_run_id
    await first.result()
    assert harness.scalar("SELECT count(*) FROM servicetitan_sync_logs") == 1


async def test_a_scheduled_launch_runs_the_sync(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    launched = await harness.client.execute_workflow(
        ScheduledSyncWorkflow.run,
        LaunchInput(credential_id=credential, data_type="invoices"),
        id=f"launch-{credential}-{harness.task_queue}",
        task_queue=harness.task_queue,
    )
    assert launched.started and launched.detail.startswith("completed")
    assert harness.rows("SELECT sync_type, data_type FROM servicetitan_sync_logs") == [
        ("scheduled", "invoices")
    ]
    expected = harness.expected_invoices(TENANT, customers_known=False)
    assert stored_invoices(harness, TENANT) == expected
    assert harness.scalar("SELECT count(*) FROM members_stream") == 0


async def test_progress_query_and_search_attributes(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(latency_seconds=0.03)
    handle = await harness.start(credential)
    seen_running = None
    while seen_running is None:
        progress = await handle.query(SyncWorkflow.progress)
        if progress.status == "running" and any(s.pages for s in progress.streams):
            seen_running = progress
        await asyncio.sleep(0.05)
    assert seen_running.credential_id == credential
    assert seen_running.current_stream in ("customers", "customer_contacts", "invoices")
    result = await handle.result()
    final = await handle.query(SyncWorkflow.progress)
    assert final.status == "completed"
    assert [s.pages for s in final.streams] == [s.pages for s in result.streams]
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(sa.CREDENTIAL_ID) == credential
    assert attributes.get(sa.TENANT_ID) == str(TENANT)
    assert attributes.get(sa.STATUS) == "completed"
    assert attributes.get(sa.TRIGGER) == "manual"
    found = [
        e.id
        async for e in harness.client.list_workflows(
            f"StCredentialId = {credential} AND StSyncStatus = 'completed' "
            f"AND TaskQueue = '{harness.task_queue}'"
        )
    ]
    assert workflow_id_for(credential) in found


async def test_sandbox_counts_no_requests_to_unused_endpoints(harness: SyncHarness) -> None:
    """The sync reads the export feeds (and counts once per stream), nothing else."""
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    used = {name for name, count in harness.sandbox.counters.requests.items() if count}
    assert used <= {
        endpoints.TOKEN,
        endpoints.EXPORT_CUSTOMERS,
        endpoints.EXPORT_CONTACTS,
        endpoints.EXPORT_INVOICES,
        endpoints.CUSTOMERS,
        endpoints.INVOICES,
    }
    assert harness.sandbox.counters.requests[endpoints.INVOICES] == 1


async def test_staged_pages_lost_in_a_database_crash_are_fetched_again(
    harness: SyncHarness,
) -> None:
    """A crash restart truncates UNLOGGED tables: the sync refetches and still lands exactly."""
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(latency_seconds=0.05)
    handle = await harness.start(credential)
    counters = harness.sandbox.counters
    truncations = 0
    while not counters.refetched() and truncations < 200:
        if harness.scalar(
            "SELECT count(*) FROM servicetitan_staged_pages WHERE applied_at IS NULL"
        ):
            # In a thread: the worker shares this event loop, and a transaction of its that
            # holds the table would never end while the loop waits for the TRUNCATE's lock.
            await asyncio.to_thread(truncate_staged_pages, harness.database_url)
            truncations += 1
        await asyncio.sleep(0.01)
    result = await handle.result()
    assert result.status == "completed"
    assert counters.refetched(), "no staged page was lost, the test proved nothing"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
