"""A saved workflow history, read as what a scenario check needs: its activities and outcome.

Histories are Temporal's JSON export (``WorkflowHistory.to_json``). Payloads are the default
converter's ``json/plain``, so inputs and results decode to plain JSON values. Retried
activities appear once: their started event carries the attempt that ended them and the
failure of the attempt before. Local activities appear as the marker they leave, which holds
their result and attempt but not their input.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_SUFFIX = re.compile(r"-run(\d+)$")
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def scenario_of(path: Path) -> str:
    """``continue-as-new-run2.json`` → ``continue-as-new``; ``full-sync.json`` → itself."""
    return RUN_SUFFIX.sub("", path.stem)


def run_number(path: Path) -> int:
    match = RUN_SUFFIX.search(path.stem)
    return int(match.group(1)) if match else 1


def _decode(payloads: dict[str, Any] | None) -> Any:
    """The first payload as JSON; None when there is none (or it is ``binary/null``)."""
    items = (payloads or {}).get("payloads") or []
    if not items or "data" not in items[0]:
        return None
    return json.loads(base64.b64decode(items[0]["data"]))


def _failure_type(failure: dict[str, Any] | None) -> str | None:
    """``ApplicationError.type`` of a failure, ``timeout:<kind>`` for a timeout, else None."""
    if not failure:
        return None
    if "applicationFailureInfo" in failure:
        kind = failure["applicationFailureInfo"].get("type")
        return str(kind) if kind else None
    if "timeoutFailureInfo" in failure:
        return "timeout:" + str(failure["timeoutFailureInfo"].get("timeoutType", ""))
    return _failure_type(failure.get("cause"))


@dataclass
class Activity:
    name: str
    input: Any
    """None for a local activity (its marker does not record it)."""
    attempt: int = 0
    """Attempt of the try that ended (or last started) the activity; 0 if never started."""
    previous_failure: str | None = None
    """What failed the attempt before (``_failure_type``), for an activity that was retried."""
    closed: str | None = None
    """``completed``, ``failed``, ``timed_out`` or ``canceled``; None while open."""
    result: Any = None


@dataclass
class Run:
    """One execution (one run of a continue-as-new chain)."""

    workflow_type: str
    input: Any
    activities: list[Activity] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    """Workflow types of the child workflows it started, and tried to start."""
    child_start_failures: list[str] = field(default_factory=list)
    closed: str = ""
    """The closing event type without its prefix, e.g. ``WORKFLOW_EXECUTION_COMPLETED``."""
    failure_type: str | None = None
    result: Any = None
    overlapped: bool = False
    """Whether a fetch and an apply were ever running at once (the next batch fetched ahead)."""

    def named(self, name: str) -> list[Activity]:
        return [activity for activity in self.activities if activity.name == name]

    @property
    def continued_as_new(self) -> bool:
        return self.closed == "WORKFLOW_EXECUTION_CONTINUED_AS_NEW"


_CLOSING = {
    "EVENT_TYPE_ACTIVITY_TASK_COMPLETED": ("activityTaskCompletedEventAttributes", "completed"),
    "EVENT_TYPE_ACTIVITY_TASK_FAILED": ("activityTaskFailedEventAttributes", "failed"),
    "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT": ("activityTaskTimedOutEventAttributes", "timed_out"),
    "EVENT_TYPE_ACTIVITY_TASK_CANCELED": ("activityTaskCanceledEventAttributes", "canceled"),
}

_RUN_CLOSING = {
    f"EVENT_TYPE_WORKFLOW_EXECUTION_{end}"
    for end in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW")
}


def read_run(path: Path) -> Run:
    events: list[dict[str, Any]] = json.loads(path.read_text())["events"]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    run = Run(workflow_type=started["workflowType"]["name"], input=_decode(started.get("input")))
    by_id: dict[str, Activity] = {}
    for event in events:
        kind = event["eventType"]
        if kind == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
            attributes = event["activityTaskScheduledEventAttributes"]
            activity = Activity(
                attributes["activityType"]["name"], _decode(attributes.get("input"))
            )
            by_id[event["eventId"]] = activity
            run.activities.append(activity)
            running = {a.name for a in by_id.values() if a.closed is None}
            run.overlapped = run.overlapped or {"fetch_pages", "map_and_insert_pages"} <= running
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_STARTED":
            attributes = event["activityTaskStartedEventAttributes"]
            activity = by_id[attributes["scheduledEventId"]]
            activity.attempt = int(attributes.get("attempt", 1))
            activity.previous_failure = _failure_type(attributes.get("lastFailure"))
        elif kind in _CLOSING:
            key, closed = _CLOSING[kind]
            attributes = event[key]
            activity = by_id[attributes["scheduledEventId"]]
            activity.closed = closed
            activity.result = _decode(attributes.get("result"))
        elif kind == "EVENT_TYPE_MARKER_RECORDED":
            local = _local_activity(event["markerRecordedEventAttributes"])
            if local is not None:
                run.activities.append(local)
        elif kind == "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED":
            attributes = event["startChildWorkflowExecutionInitiatedEventAttributes"]
            run.children.append(attributes["workflowType"]["name"])
        elif kind == "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED":
            attributes = event["startChildWorkflowExecutionFailedEventAttributes"]
            run.child_start_failures.append(str(attributes.get("cause", "")))
        elif kind in _RUN_CLOSING:
            run.closed = kind.removeprefix("EVENT_TYPE_")
            closing: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("Attributes")), {}
            )
            run.failure_type = _failure_type(closing.get("failure"))
            run.result = _decode(closing.get("result"))
    return run


def _local_activity(marker: dict[str, Any]) -> Activity | None:
    """The local activity a marker records (the SDK's ``core_local_activity``), or None."""
    if marker.get("markerName") != LOCAL_ACTIVITY_MARKER:
        return None
    details = marker.get("details", {})
    data = _decode(details.get("data"))
    return Activity(
        data["activity_type"],
        None,
        attempt=int(data.get("attempt", 1)),
        closed="failed" if marker.get("failure") else "completed",
        result=_decode(details.get("result")),
    )


def read_runs(paths: Iterable[Path]) -> list[Run]:
    """The runs of one scenario, in run order."""
    return [read_run(path) for path in sorted(paths, key=run_number)]
