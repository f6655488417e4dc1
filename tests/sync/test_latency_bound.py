"""When the API's latency, not CPU, paces a sync: no stream waits on another's downloads.

At zero latency the streams apply in order (contacts, customers, invoices): each member row is
then written once, and the order costs nothing because CPU is what the sync waits for. With
slow pages that order would only make customers wait for the contacts' downloads.
"""

from __future__ import annotations

import json

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from contracts.sync import ActivityName
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.sync.harness import SyncHarness, stored_invoices, stored_members
from workflows.stream_run import LATENCY_BOUND_PAGE
from workflows.sync import workflow_id_for

TENANT = 1002
PAGE = 20


@pytest.fixture
def sandbox() -> Sandbox:
    """Customers, contacts and invoices each long enough for full batches of pages."""
    return Sandbox(
        SandboxConfig(
            tenants=[TenantSpec.make(TENANT, customers=8 * PAGE, invoices=24 * PAGE)],
            export_page_size=PAGE,
        )
    )


def _stream(event: HistoryEvent) -> str:
    """The stream an activity's input names (a fetch's own, or its pages' for an apply)."""
    data = json.loads(event.activity_task_scheduled_event_attributes.input.payloads[0].data)
    stream = data.get("stream") or data["pages"][0]["stream"]
    assert stream in ("customer_contacts", "customers", "invoices"), stream
    return str(stream)


class _Activities:
    """The sync's fetch and apply activities, by stream."""

    def __init__(self, events: list[HistoryEvent]) -> None:
        self.events = events
        self.scheduled: dict[int, tuple[str, str]] = {}
        for event in events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                if name in (ActivityName.FETCH_PAGES, ActivityName.MAP_AND_INSERT_PAGES):
                    self.scheduled[event.event_id] = (name, _stream(event))

    def of(self, name: str, stream: str) -> list[HistoryEvent]:
        """Scheduled events of ``name`` for ``stream``, in order."""
        return [e for e in self.events if self.scheduled.get(e.event_id) == (name, stream)]

    def completed(self, scheduled: HistoryEvent) -> int:
        """The event id of the activity's completion."""
        return next(
            e.event_id
            for e in self.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and e.activity_task_completed_event_attributes.scheduled_event_id == scheduled.event_id
        )


async def _history(harness: SyncHarness, credential: int) -> _Activities:
    handle = harness.client.get_workflow_handle(workflow_id_for(credential))
    return _Activities([event async for event in handle.fetch_history_events()])


async def test_slow_pages_apply_customers_during_the_contacts_downloads(
    harness: SyncHarness,
) -> None:
    latency = 1.25 * LATENCY_BOUND_PAGE.total_seconds()
    harness.sandbox.set_faults(latency_seconds=latency)
    credential = await harness.add_tenant(TENANT)

    result = await harness.sync(credential)

    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
    # The counts for progress, asked alongside the first batches, arrived.
    estimates = {s.stream: s.estimated_total for s in result.streams}
    assert estimates == {"customer_contacts": None, "customers": 8 * PAGE, "invoices": 24 * PAGE}
    history = await _history(harness, credential)
    contact_fetches = history.of(ActivityName.FETCH_PAGES, "customer_contacts")
    customer_applies = history.of(ActivityName.MAP_AND_INSERT_PAGES, "customers")
    # Customers did not wait for the contacts' last download to start applying.
    assert customer_applies[0].event_id < history.completed(contact_fetches[-1])


async def test_quick_pages_keep_customers_waiting_for_the_contacts(harness: SyncHarness) -> None:
    """At zero latency CPU paces the sync: the write-once order stays."""
    credential = await harness.add_tenant(TENANT)

    result = await harness.sync(credential)

    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    history = await _history(harness, credential)
    contact_applies = history.of(ActivityName.MAP_AND_INSERT_PAGES, "customer_contacts")
    customer_applies = history.of(ActivityName.MAP_AND_INSERT_PAGES, "customers")
    assert customer_applies[0].event_id > history.completed(contact_applies[-1])
