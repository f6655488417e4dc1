"""An incremental sync's first pages: fetched (and, when they are whole feeds, applied) in one
activity; whatever does not fit goes on the usual way, with every row exact."""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType

from contracts.sync import ActivityName
from sandbox import endpoints
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness, stored_invoices, stored_members
from workflows.sync import workflow_id_for


async def _activities(harness: SyncHarness, credential: int) -> Counter[str]:
    """The activities the credential's last sync scheduled (local ones leave markers only)."""
    history = await harness.client.get_workflow_handle(workflow_id_for(credential)).fetch_history()
    return Counter(
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )


def _exact(harness: SyncHarness) -> None:
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)


async def test_changes_that_fit_a_page_per_stream_are_synced_by_one_activity(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    summary = harness.sandbox.mutate(TENANT, modify=4, add=3, merge=1, contacts=5)

    result = await harness.sync(credential)

    assert result.status == "completed"
    _exact(harness)
    assert await _activities(harness, credential) == {ActivityName.FETCH_FIRST_PAGES: 1}
    streams = {stream.stream: stream for stream in result.streams}
    assert streams["invoices"].inserted == len(summary.invoices.added)
    assert all(stream.done and stream.pages == 1 for stream in result.streams)


async def test_a_feed_longer_than_a_page_goes_on_from_its_first_page(
    harness: SyncHarness,
) -> None:
    """Contacts span pages: their first page is applied by the stream, and the customers and
    invoices, whose first pages were fetched with it, wait for the contacts to complete."""
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    harness.sandbox.mutate(TENANT, modify=30, add=10, contacts=150)
    harness.sandbox.counters.reset()

    result = await harness.sync(credential)

    assert result.status == "completed"
    _exact(harness)
    scheduled = await _activities(harness, credential)
    assert scheduled[ActivityName.FETCH_FIRST_PAGES] == 1
    assert scheduled[ActivityName.FETCH_PAGES] >= 1  # the rest of the contacts
    assert scheduled[ActivityName.MAP_AND_INSERT_PAGES] >= 3  # every stream applied apart
    streams = {stream.stream: stream for stream in result.streams}
    assert streams["customer_contacts"].pages > 1
    assert harness.sandbox.counters.refetched() == {}  # no first page was fetched twice


async def test_a_first_page_the_api_refuses_is_fetched_by_its_own_stream(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    harness.sandbox.mutate(TENANT, modify=3, add=2, contacts=2)
    harness.sandbox.force_429(count=1, retry_after=1, endpoint=endpoints.EXPORT_CUSTOMERS)

    result = await harness.sync(credential)

    assert result.status == "completed"
    _exact(harness)
    scheduled: dict[str, Any] = await _activities(harness, credential)
    assert scheduled[ActivityName.FETCH_FIRST_PAGES] == 1
    assert scheduled[ActivityName.FETCH_PAGES] == 1  # the customers, after their 429
    assert scheduled[ActivityName.MAP_AND_INSERT_PAGES] == 2  # customers, then invoices
    assert harness.sandbox.counters.rate_limited == 1
