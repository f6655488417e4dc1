"""A stream's work follows the worker that fetched its pages, and falls back when it is gone.

Two workers share the task queue, each with a queue of its own (as ``worker.py`` runs them).
Every apply must run on the worker that fetched the stream's last pages, so the mapping that
worker started at fetch time is used, not thrown away. A worker queue nobody polls (a worker
that died) costs ``ROUTED_START_TIMEOUT`` per activity, then the shared queue takes over; an
apply whose worker dies while running it is retried on the shared queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.activity import defn
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from activities.apply import ApplyActivities
from activities.dependencies import SyncDependencies
from activities.registry import all_activities
from contracts.sync import ActivityName, ApplyPagesInput, ApplyPagesResult
from runtime.worker import build_own_queue_worker, build_worker
from tests.sync.conftest import TENANT
from tests.sync.harness import HarnessFactory, SyncHarness, stored_invoices, stored_members
from workflows.sync import workflow_id_for


@asynccontextmanager
async def _second_worker(harness: SyncHarness, own_queue: str | None) -> AsyncIterator[None]:
    """Another worker process's share: the shared queue, and ``own_queue`` if it is polled."""
    deps: SyncDependencies = dataclasses.replace(
        harness.dependencies(), identity="second-worker", worker_queue=own_queue
    )
    # A client of its own: one client may not run two workers on one queue (another process).
    client = await Client.connect(harness.client.service_client.config.target_host)
    shared = build_worker(client, harness.settings, deps, task_queue=harness.task_queue)
    workers: list[Worker] = [shared]
    if own_queue is not None:
        workers.append(build_own_queue_worker(client, harness.settings, deps))
    async with contextlib.AsyncExitStack() as running:
        for worker in workers:
            await running.enter_async_context(worker)
        yield


def _decoded(payloads: Any) -> Any:
    """A payload of the default converter: JSON, or empty for None (``binary/null``)."""
    return json.loads(payloads[0].data) if payloads and payloads[0].data else None


async def _activities(harness: SyncHarness, credential: int) -> list[dict[str, Any]]:
    """Each activity of the sync: name, queue, the identity that ran it, its input and result."""
    history = await harness.client.get_workflow_handle(workflow_id_for(credential)).fetch_history()
    scheduled: dict[int, dict[str, Any]] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = {
                "name": attributes.activity_type.name,
                "queue": attributes.task_queue.name,
                "input": _decoded(attributes.input.payloads),
            }
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes_started = event.activity_task_started_event_attributes
            scheduled[attributes_started.scheduled_event_id]["identity"] = (
                attributes_started.identity
            )
            scheduled[attributes_started.scheduled_event_id]["attempt"] = attributes_started.attempt
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            scheduled[done.scheduled_event_id]["result"] = _decoded(done.result.payloads)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            timed_out = event.activity_task_timed_out_event_attributes
            scheduled[timed_out.scheduled_event_id]["timed_out"] = True
    return list(scheduled.values())


async def test_applies_run_on_the_worker_that_fetched_the_pages(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    second_queue = f"{harness.task_queue}.second"
    async with _second_worker(harness, second_queue):
        result = await harness.sync(credential, mode="full")
    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)

    own_queues = {f"{harness.task_queue}.own", second_queue}
    identity_of_queue: dict[str, str] = {}
    holder: dict[str, str] = {}  # stream -> the own queue of its latest fetch
    applies = 0
    for activity in await _activities(harness, credential):
        if activity["name"] == ActivityName.FETCH_PAGES and "result" in activity:
            queue = activity["result"]["worker_queue"]
            assert queue in own_queues, queue
            identity_of_queue.setdefault(queue, activity["identity"])
            assert identity_of_queue[queue] == activity["identity"]  # the queue's own worker
            holder[activity["input"]["stream"]] = queue
        elif activity["name"] == ActivityName.MAP_AND_INSERT_PAGES:
            applies += 1
            stream = activity["input"]["pages"][0]["stream"]
            assert activity["queue"] == holder[stream], (stream, activity["queue"])
            assert activity["identity"] == identity_of_queue[holder[stream]]
    assert applies > 0


async def test_a_worker_queue_nobody_polls_falls_back_to_the_shared_queue(
    make_harness: HarnessFactory,
) -> None:
    """The only worker names a queue of its own that nobody polls (as if it had died): every
    activity sent there times out before starting, runs on the shared queue, and the sync
    lands exactly."""
    async with make_harness(run_worker=False) as harness:
        credential = await harness.add_tenant(TENANT)
        gone = f"{harness.task_queue}.gone"
        deps = harness.dependencies()
        deps.worker_queue = gone
        async with build_worker(
            harness.client, harness.settings, deps, task_queue=harness.task_queue
        ):
            result = await harness.sync(credential, mode="full")
        assert result.status == "completed"
        assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
        assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
        activities = await _activities(harness, credential)
    sent_to_gone = [a for a in activities if a["queue"] == gone]
    assert sent_to_gone, "nothing was routed to the worker's queue"
    assert all(a.get("timed_out") and "identity" not in a for a in sent_to_gone), sent_to_gone
    applies = [a for a in activities if a["name"] == ActivityName.MAP_AND_INSERT_PAGES]
    assert any(a["queue"] == harness.task_queue and "identity" in a for a in applies)


class _ApplyThatHangsOnce:
    """The worker's apply, except that its first call hangs without a heartbeat, as an
    apply does whose worker was SIGKILLed mid-page (from the server's side)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.hung = False
        self.release = asyncio.Event()

    @defn(name=ActivityName.MAP_AND_INSERT_PAGES)
    async def map_and_insert_pages(self, input: ApplyPagesInput) -> ApplyPagesResult:
        if not self.hung:
            self.hung = True
            await self.release.wait()
            raise RuntimeError("the hung apply was released after its test")
        result: ApplyPagesResult = await self.real(input)
        return result


async def test_an_apply_whose_worker_stops_answering_is_retried_on_the_shared_queue_at_once(
    make_harness: HarnessFactory,
) -> None:
    """Its retry goes to the shared queue, not to the queue of a worker that may be dead
    (there it would wait out the retry interval and ``ROUTED_START_TIMEOUT`` first)."""
    async with make_harness(run_worker=False) as harness:
        credential = await harness.add_tenant(TENANT)
        own = f"{harness.task_queue}.own"
        deps = harness.dependencies()
        deps.worker_queue = own
        activities = all_activities(deps)
        hanging = _ApplyThatHangsOnce(ApplyActivities(deps).map_and_insert_pages)
        own_activities = [
            hanging.map_and_insert_pages if a.__name__ == ActivityName.MAP_AND_INSERT_PAGES else a
            for a in activities
        ]
        shared = build_worker(harness.client, harness.settings, deps, task_queue=harness.task_queue)
        own_worker = Worker(harness.client, task_queue=own, activities=own_activities)
        try:
            async with shared, own_worker:
                result = await harness.sync(credential, mode="full")
                hanging.release.set()
        finally:
            hanging.release.set()
        assert result.status == "completed"
        assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
        assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)
        history = await _activities(harness, credential)
    applies = [a for a in history if a["name"] == ActivityName.MAP_AND_INSERT_PAGES]
    hung = [a for a in applies if a.get("timed_out")]
    assert len(hung) == 1 and hung[0]["queue"] == own and hung[0]["attempt"] == 1, hung
    after = applies[applies.index(hung[0]) + 1]
    assert after["input"]["pages"] == hung[0]["input"]["pages"]
    assert after["queue"] == harness.task_queue and "result" in after, after
