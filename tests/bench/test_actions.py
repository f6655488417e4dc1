"""The bench's action count and run-chain reading, on hand-made histories (no services).

The rules are Temporal Cloud's (``bench/actions.py``); a sync's count is what the issue's
targets are checked against, so a miscount would mislead every later decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent

from bench.actions import count_history, retry_causes
from bench.history import activity_spans, run_histories
from bench.server_actions import Reading, between, parse_actions, queue_health

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _event(event_id: int, kind: int, seconds: float = 0.0, **attributes: Any) -> HistoryEvent:
    stamp = Timestamp()
    stamp.FromDatetime(T0 + timedelta(seconds=seconds))
    event = HistoryEvent(event_id=event_id, event_type=kind, event_time=stamp)  # type: ignore[arg-type]
    for name, values in attributes.items():
        target = getattr(event, name)
        for key, value in values.items():
            if isinstance(value, dict):
                getattr(target, key).CopyFrom(type(getattr(target, key))(**value))
            else:
                setattr(target, key, value)
    return event


def _started(run_before: str = "", parent: str = "", seconds: float = 0.0) -> HistoryEvent:
    values: dict[str, Any] = {"continued_execution_run_id": run_before}
    if parent:
        values["parent_workflow_execution"] = {"workflow_id": parent}
    return _event(
        1,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        seconds,
        workflow_execution_started_event_attributes=values,
    )


def _activity(first_id: int, name: str, start: float, end: float, attempt: int = 1) -> list[Any]:
    return [
        _event(
            first_id,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            start,
            activity_task_scheduled_event_attributes={"activity_type": {"name": name}},
        ),
        _event(
            first_id + 1,
            EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            start,
            activity_task_started_event_attributes={
                "scheduled_event_id": first_id,
                "attempt": attempt,
            },
        ),
        _event(
            first_id + 2,
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            end,
            activity_task_completed_event_attributes={"scheduled_event_id": first_id},
        ),
    ]


class _Handle:
    def __init__(self, events: list[HistoryEvent]) -> None:
        self.events = events

    async def fetch_history_events(self) -> AsyncIterator[HistoryEvent]:
        for event in self.events:
            yield event


class _Client:
    """Runs by id; no run id means the latest, as the server answers."""

    def __init__(self, runs: dict[str, list[HistoryEvent]], latest: str) -> None:
        self.runs = runs
        self.latest = latest

    def get_workflow_handle(self, workflow_id: str, *, run_id: str | None = None) -> _Handle:
        return _Handle(self.runs[run_id or self.latest])


def _two_runs() -> _Client:
    continued = _event(
        8,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        3.0,
        workflow_execution_continued_as_new_event_attributes={"new_execution_run_id": "b"},
    )
    first = [_started(), *_activity(5, "fetch", 1.0, 2.0), continued]
    second = [_started(run_before="a", seconds=3.5), *_activity(5, "apply", 4.0, 6.0, attempt=3)]
    return _Client({"a": first, "b": second}, latest="b")


async def test_every_run_of_a_continued_as_new_sync_is_read_first_run_first() -> None:
    client = _two_runs()
    runs = await run_histories(client, "wf")  # type: ignore[arg-type]
    assert [len(run) for run in runs] == [5, 4]

    spans, wall = await activity_spans(client, "wf")  # type: ignore[arg-type]
    assert [(s.kind, s.seconds) for s in spans] == [("fetch", 1.0), ("apply", 2.0)]
    assert wall == 6.0


def _upsert(event_id: int, *names: str) -> HistoryEvent:
    event = _event(event_id, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    for name in names:
        fields.indexed_fields[name].CopyFrom(Payload(data=b'"x"'))
    return event


async def test_actions_follow_temporal_clouds_rules() -> None:
    runs = await run_histories(_two_runs(), "wf")  # type: ignore[arg-type]
    runs[1] += [
        _event(20, EventType.EVENT_TYPE_TIMER_STARTED),
        _event(21, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        _event(22, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
        _upsert(23, "A", "B"),
        _upsert(24, "TemporalChangeVersion"),
        *(
            _event(
                25 + n,
                EventType.EVENT_TYPE_MARKER_RECORDED,
                marker_recorded_event_attributes={"workflow_task_completed_event_id": task},
            )
            for n, task in enumerate((19, 19, 30))
        ),
        _event(28, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    ]
    child = [[_started(parent="launcher"), *_activity(5, "apply", 0.0, 1.0)]]

    assert count_history(runs) == {
        "workflow started": 2,  # the client's start and the continue-as-new run
        "activity started": 2,
        "activity retried": 2,  # attempt 3
        "timer started": 1,
        "signal": 1,
        "child workflow started": 2,
        "search attribute upsert": 1,  # TemporalChangeVersion alone is free
        "markers (local activities)": 2,  # once per workflow task
    }
    assert count_history(child) == {"activity started": 1}  # its start is billed in the parent


def test_server_counter_is_read_per_action_type_of_the_namespace() -> None:
    def text(heartbeats: int) -> str:
        return "\n".join(
            [
                "# TYPE action counter",
                'action{action_type="grpc_StartWorkflowExecution",namespace="temporal_system",'
                'operation="StartWorkflowExecution",service_name="frontend"} 7',
                'action{action_type="grpc_RecordActivityTaskHeartbeat",namespace="default",'
                f'operation="RecordActivityTaskHeartbeat",service_name="frontend"}} {heartbeats}',
                'action{action_type="command_ScheduleActivityTask",namespace="default",'
                'operation="RespondWorkflowTaskCompleted",service_name="frontend"} 3',
                'action_latency{action_type="x",namespace="default"} 99',
            ]
        )

    before = Reading(parse_actions(text(5)), True)
    after = Reading(parse_actions(text(9)), True)
    assert before.counts == {
        "grpc_RecordActivityTaskHeartbeat": 5,
        "command_ScheduleActivityTask": 3,
    }
    delta = between(before, after)
    assert delta.heartbeats == 4
    assert delta.total == 4
    assert not between(Reading(before.counts, False), after).available


def test_queue_health_shows_refusals_and_waits_for_a_worker() -> None:
    def text(tasks: int, seconds: float, refused: int) -> str:
        labels = 'namespace="default",partition="__normal__",task_type="Activity",taskqueue="q"'
        return "\n".join(
            [
                f"task_schedule_to_start_latency_count{{{labels}}} {tasks}",
                f"task_schedule_to_start_latency_sum{{{labels}}} {seconds}",
                f'service_errors_resource_exhausted{{namespace="default",operation="X"}} {refused}',
            ]
        )

    before = Reading(Counter(), True, text(10, 1.0, 0))
    after = Reading(Counter(), True, text(30, 5.0, 2))
    assert queue_health(before, after) == {
        "resource_exhausted_errors": 2,
        "schedule_to_start": {"Activity normal": {"tasks": 20, "mean_wait_ms": 200.0}},
    }


def _retried(event_id: int, attempt: int, **failure: Any) -> HistoryEvent:
    return _event(
        event_id,
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        activity_task_started_event_attributes={"attempt": attempt, "last_failure": failure},
    )


def test_retry_causes_name_each_retried_activitys_last_failure() -> None:
    heartbeat = {
        "message": "activity Heartbeat timeout",
        "timeout_failure_info": {"timeout_type": TimeoutType.TIMEOUT_TYPE_HEARTBEAT},
    }
    closed = {
        "message": "activity StartToClose timeout",
        "timeout_failure_info": {"timeout_type": TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE},
    }
    refused = {"message": "boom", "application_failure_info": {"type": "DatabaseUnavailable"}}
    runs = [
        [
            _retried(3, 1),  # a first attempt: no retry
            _retried(6, 3, **heartbeat),  # two retries, one activity: its last failure counts
            _retried(9, 2, **heartbeat),
            _retried(12, 2, **closed),
        ],
        [_retried(3, 2, **refused), _retried(6, 2, message="lost")],
    ]

    assert retry_causes(runs) == {
        "heartbeat timeout": 2,
        "start-to-close timeout": 1,
        "DatabaseUnavailable": 1,
        "lost": 1,
    }
