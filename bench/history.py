"""Where the wall time of a sync went, read from its Temporal history.

Applying pages is the sync's critical path: page N+1 is applied after page N, and fetching
runs ahead of it. So the wall time splits into time inside the apply activities
(``map_and_insert_pages``), time inside the other activities while no apply runs (the first
fetch of each stream, token, start and finish), and the gaps between them, where Temporal
moves the sync along: the activity's completion travels to the server, a workflow task runs,
the next activity task is matched and dispatched. Event timestamps are the server's; all
runs of a continued-as-new workflow are included (``run_histories``, which the action count of
``bench/actions.py`` reads too).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from contracts.sync import ActivityName


@dataclass(frozen=True)
class Span:
    kind: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


async def run_histories(client: Client, workflow_id: str) -> list[list[HistoryEvent]]:
    """The events of every run of the workflow's latest execution chain, first run first.

    A handle without a run id reads the latest run; each run started by continue-as-new (or
    a retry) names the run before it, so the chain is walked back to its first run. Read it
    right after the sync: the next sync of the credential starts a new chain under the same id.
    """
    runs: list[list[HistoryEvent]] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        events = [event async for event in handle.fetch_history_events()]
        runs.append(events)
        started = events[0].workflow_execution_started_event_attributes if events else None
        if started is None or not started.continued_execution_run_id:
            break
        run_id = started.continued_execution_run_id
    runs.reverse()
    return runs


async def activity_spans(client: Client, workflow_id: str) -> tuple[list[Span], float]:
    """Activity executions (start to completion) of every run, and the workflow's wall time."""
    spans: list[Span] = []
    first: datetime | None = None
    last: datetime | None = None
    for events in await run_histories(client, workflow_id):
        scheduled: dict[int, str] = {}
        started: dict[int, datetime] = {}
        for event in events:
            when = event.event_time.ToDatetime()
            first = when if first is None else first
            last = when
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                activity_type = event.activity_task_scheduled_event_attributes.activity_type
                scheduled[event.event_id] = activity_type.name
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started[event.activity_task_started_event_attributes.scheduled_event_id] = when
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                event_id = event.activity_task_completed_event_attributes.scheduled_event_id
                if event_id in started:
                    spans.append(Span(scheduled[event_id], started[event_id], when))
    wall = (last - first).total_seconds() if first and last else 0.0
    return spans, wall


def _covered(spans: list[Span]) -> float:
    """Seconds during which at least one of ``spans`` ran."""
    total = 0.0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for span in sorted(spans, key=lambda s: s.start):
        if current_end is None or span.start > current_end:
            if current_start is not None and current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = span.start, span.end
        elif span.end > current_end:
            current_end = span.end
    if current_start is not None and current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


async def breakdown(client: Client, workflow_id: str, pages: int) -> dict[str, Any]:
    """Wall time split into applying, other activities alone, and orchestration gaps."""
    spans, wall = await activity_spans(client, workflow_id)
    applies = [s for s in spans if s.kind == ActivityName.MAP_AND_INSERT_PAGES]
    apply_seconds = _covered(applies)
    any_activity = _covered(spans)
    by_kind: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for span in spans:
        by_kind[span.kind] += span.seconds
        count[span.kind] += 1
    per_page = 1000 / max(pages, 1)
    return {
        "wall_seconds": round(wall, 3),
        "applying_seconds": round(apply_seconds, 3),
        "other_activities_alone_seconds": round(any_activity - apply_seconds, 3),
        "orchestration_gap_seconds": round(wall - any_activity, 3),
        "activity_seconds": {k: round(v, 3) for k, v in by_kind.items()},
        "activity_count": dict(count),
        "mean_apply_ms": round(per_page * by_kind[ActivityName.MAP_AND_INSERT_PAGES], 1),
        "mean_ms_per_page": {k: round(per_page * v, 1) for k, v in by_kind.items()},
    }
