"""Temporal actions of a sync, counted the way Temporal Cloud bills them.

Temporal Cloud prices by actions (https://docs.temporal.io/cloud/actions, "Temporal Cloud
Actions"; its tables map each action to the history event it is counted from). What counts,
and how this module counts it:

* **Workflow started** — one per run: a client start and every continue-as-new run (the new
  run's ``WorkflowExecutionStarted``; the ``ContinuedAsNew`` event is not counted again). A
  child workflow costs two actions in its parent (``StartChildWorkflowExecutionInitiated``:
  the recorded intent and the start), so a child's own start event counts nothing here.
* **Activity started or retried** — one per ``ActivityTaskScheduled``, plus ``attempt - 1``
  of its ``ActivityTaskStarted`` (retries leave no events of their own; the started event
  carries the last attempt number).
* **Activity heartbeat recorded** — each heartbeat that reaches the server (the SDK throttles
  them). Not in history: read from the server's ``action`` counter (``bench/server_actions``).
* **Timer started** — ``TimerStarted``, implicit timers included.
* **Signal** — ``WorkflowExecutionSignaled`` (counted in the signalled workflow).
* **Search attribute upsert** — one per ``UpsertWorkflowSearchAttributes`` command, however
  many attributes it sets; attributes given at start are free, and so is an upsert of only
  ``TemporalChangeVersion`` (what ``workflow.patched`` writes).
* **Local activities and markers** — all ``MarkerRecorded`` events of one workflow task count
  once, plus the local-activity retries the task's metering metadata reports. Patch markers
  are markers too; counting them this way is the upper bound.
* **Query** — each query a worker answers; not in history, read from the server's counter.
* **Update** accepted or rejected, **workflow options updated**, **Nexus operation** scheduled
  or cancelled, **reset** — one each (the sync uses none of them today).
* A **Schedule** execution costs two actions of its own besides the workflow start; the fleet
  scenario, which starts the launcher the way a schedule does, adds them (``SCHEDULE_ACTIONS``).

Not counted: workflow tasks, activity completions and failures, history reads, visibility.
The history part is exact per sync; heartbeats and queries are exact when the sync runs alone
on the server (every scenario that reports them does).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent

from bench import server_actions
from bench.context import Row
from bench.history import run_histories
from bench.services import Temporal

SCHEDULE_ACTIONS = 2
"""What Temporal Cloud bills per Schedule execution besides the workflow it starts."""
CHANGE_VERSION = "TemporalChangeVersion"

_ONE_EACH = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity started",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer started",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED: "update",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: "options updated",
    EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED: "nexus operation",
    EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED: "nexus operation",
}


def count_history(runs: list[list[HistoryEvent]]) -> Counter[str]:
    """Billable actions in the events of a workflow's runs, by kind."""
    counts: Counter[str] = Counter()
    for events in runs:
        marker_tasks: set[int] = set()
        for event in events:
            kind = event.event_type
            if kind in _ONE_EACH:
                counts[_ONE_EACH[kind]] += 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                started = event.workflow_execution_started_event_attributes
                if not started.parent_workflow_execution.workflow_id:
                    counts["workflow started"] += 1
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attempt = event.activity_task_started_event_attributes.attempt
                counts["activity retried"] += max(attempt - 1, 0)
            elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                counts["child workflow started"] += 2
            elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                names = set(
                    event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
                )
                if names - {CHANGE_VERSION}:
                    counts["search attribute upsert"] += 1
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
                task = event.marker_recorded_event_attributes.workflow_task_completed_event_id
                if task not in marker_tasks:
                    marker_tasks.add(task)
                    counts["markers (local activities)"] += 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                metering = event.workflow_task_completed_event_attributes.metering_metadata
                counts["local activity retried"] += (
                    metering.nonfirst_local_activity_execution_attempts
                )
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = event.workflow_task_failed_event_attributes.cause
                if cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW:
                    counts["reset"] += 1
    return Counter({kind: n for kind, n in counts.items() if n})


def retry_causes(runs: list[list[HistoryEvent]]) -> Counter[str]:
    """Why activities were retried: each retried activity's last failure, by kind.

    An ``ActivityTaskStarted`` with ``attempt`` above 1 carries the failure of the attempt
    before it (earlier attempts leave no trace), so this names the last cause per activity:
    a timeout by its type ("heartbeat timeout"), any other failure by its type or message.
    """
    causes: Counter[str] = Counter()
    for events in runs:
        for event in events:
            if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                continue
            started = event.activity_task_started_event_attributes
            if started.attempt > 1:
                causes[_failure_kind(started.last_failure)] += 1
    return causes


def _failure_kind(failure: Failure) -> str:
    if failure.HasField("timeout_failure_info"):
        timeout = TimeoutType.Name(failure.timeout_failure_info.timeout_type)
        return timeout.removeprefix("TIMEOUT_TYPE_").lower().replace("_", "-") + " timeout"
    if failure.HasField("application_failure_info") and failure.application_failure_info.type:
        return failure.application_failure_info.type
    return failure.message or "unknown"


@dataclass(frozen=True)
class SyncActions:
    """One sync's actions: from its history, plus heartbeats and queries from the server."""

    history: dict[str, int]
    server: server_actions.ServerActions
    runs: int
    by_activity: dict[str, int] = field(default_factory=dict)
    """Activities scheduled, by activity type (whatever the workflow names them)."""

    @property
    def total(self) -> int:
        return sum(self.history.values()) + self.server.heartbeats + self.server.queries

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "history": self.history,
            "heartbeats": self.server.heartbeats if self.server.available else None,
            "queries": self.server.queries if self.server.available else None,
            "runs": self.runs,
            "activities_by_type": self.by_activity,
            "server_action_counter": self.server.by_type if self.server.available else None,
            "server_action_counter_total": self.server.total if self.server.available else None,
        }

    def summary(self) -> str:
        """The kinds that make the total, largest first (for a table's notes)."""
        parts = dict(self.history)
        if self.server.available:
            parts["heartbeats"] = self.server.heartbeats
            if self.server.queries:
                parts["queries"] = self.server.queries
        shown = ", ".join(f"{kind} {n:,}" for kind, n in sorted(parts.items(), key=lambda p: -p[1]))
        return shown if self.server.available else f"{shown}; heartbeats not measured"


def _activity_types(runs: list[list[HistoryEvent]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for events in runs:
        for event in events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                counts[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return dict(sorted(counts.items()))


async def mark(temporal: Temporal) -> server_actions.Reading:
    """Read the server's counter before a sync (pass it to ``sync_actions`` after)."""
    return await server_actions.read(temporal.metrics_url)


async def sync_actions(
    temporal: Temporal, workflow_id: str, before: server_actions.Reading
) -> SyncActions:
    """The actions of the sync that just finished under ``workflow_id`` (every run of it)."""
    after = await server_actions.read(temporal.metrics_url)
    runs = await run_histories(temporal.client, workflow_id)
    return SyncActions(
        history=dict(sorted(count_history(runs).items())),
        server=server_actions.between(before, after),
        runs=len(runs),
        by_activity=_activity_types(runs),
    )


def actions_row(
    scenario: str,
    measure: str,
    value: float,
    actions: SyncActions,
    *,
    target: str,
    unit: str = "actions",
    extra: str = "",
) -> Row:
    """A table row for an action count, with its target and what it is made of."""
    note = f"target {target}; {actions.total:,} actions: {actions.summary()}"
    return Row(scenario, measure, value, unit, note=note + (f"; {extra}" if extra else ""))
