"""The Temporal server's own count of actions, read from its Prometheus endpoint.

The server counts what Temporal Cloud bills in a counter named ``action`` (one series per
``action_type``: ``grpc_StartWorkflowExecution``, ``command_ScheduleActivityTask``,
``activity_retry``, ``grpc_RecordActivityTaskHeartbeat``, ...). Some actions never reach a
workflow's history — activity heartbeats and queries — so this counter is where they are
counted: the difference of two readings taken around a sync. It is exact for that sync only
when nothing else runs on the server meanwhile (the bench runs one scenario at a time; the
fleet scenario divides its readings by the number of syncs it ran). The server shows an action
about half a second after it happened, so a reading waits until the counter has been still for
a second.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field

import httpx

NAMESPACE = "default"
_SERIES = re.compile(r"^(?P<name>\w+)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

HEARTBEAT_TYPES = ("grpc_RecordActivityTaskHeartbeat", "grpc_RecordActivityTaskHeartbeatById")
"""Heartbeats that reached the server (the SDK throttles the rest away): billed, not in
history."""
QUERY_TYPES = ("grpc_QueryWorkflow",)
QUIET_SECONDS = 1.0
"""How long the counter must stay unchanged before a reading is taken as settled."""
POLL_SECONDS = 0.25
LONGEST_WAIT = 10.0
STICKY_PARTITION = "__sticky__"
"""A worker's own queue of workflow tasks for the workflows it has cached; every other
partition label is a partition of the shared task queue."""


def series(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every series of the metric ``name`` in Prometheus text: its labels and value."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = _SERIES.match(line)
        if match is not None and match["name"] == name:
            found.append((dict(_LABEL.findall(match["labels"])), float(match["value"])))
    return found


def parse_actions(text: str, namespace: str = NAMESPACE) -> Counter[str]:
    """The ``action`` counter of one namespace by ``action_type``, from Prometheus text."""
    counts: Counter[str] = Counter()
    for labels, value in series(text, "action"):
        if labels.get("namespace") == namespace:
            counts[labels.get("action_type", "unknown")] += round(value)
    return counts


@dataclass(frozen=True)
class ServerActions:
    """Actions the server counted between two readings (empty when it could not be read)."""

    by_type: dict[str, int] = field(default_factory=dict)
    available: bool = True

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    @property
    def heartbeats(self) -> int:
        return sum(self.by_type.get(name, 0) for name in HEARTBEAT_TYPES)

    @property
    def queries(self) -> int:
        return sum(self.by_type.get(name, 0) for name in QUERY_TYPES)


@dataclass(frozen=True)
class Reading:
    counts: Counter[str]
    available: bool
    text: str = ""
    """Everything the server exported at that moment (``queue_health`` reads more of it)."""


async def read(metrics_url: str | None, *, quiet: float = QUIET_SECONDS) -> Reading:
    """The counter once it has stopped moving for ``quiet`` seconds; unavailable when the
    server is not ours (``TEMPORAL_ADDRESS``)."""
    if metrics_url is None:
        return Reading(Counter(), False)
    async with httpx.AsyncClient(timeout=30) as http:

        async def now() -> str:
            response = await http.get(metrics_url)
            response.raise_for_status()
            return response.text

        text = await now()
        counts = parse_actions(text)
        still = waited = 0.0
        while still < quiet and waited < LONGEST_WAIT:
            waited += POLL_SECONDS
            await asyncio.sleep(POLL_SECONDS)
            text = await now()
            latest = parse_actions(text)
            still = still + POLL_SECONDS if latest == counts else 0.0
            counts = latest
    return Reading(counts, True, text)


def between(before: Reading, after: Reading) -> ServerActions:
    if not (before.available and after.available):
        return ServerActions({}, available=False)
    delta = after.counts.copy()
    delta.subtract(before.counts)
    return ServerActions({name: n for name, n in sorted(delta.items()) if n > 0})


def _queued(text: str) -> dict[str, list[float]]:
    """Per task type and queue (sticky, or any partition of the shared one): tasks started
    and their summed seconds from schedule to start."""
    totals: dict[str, list[float]] = {}
    names = ("task_schedule_to_start_latency_count", "task_schedule_to_start_latency_sum")
    for index, name in enumerate(names):
        for labels, value in series(text, name):
            if labels.get("namespace") != NAMESPACE:
                continue
            queue = "sticky" if labels.get("partition") == STICKY_PARTITION else "normal"
            key = f"{labels.get('task_type', '?')} {queue}"
            totals.setdefault(key, [0.0, 0.0])[index] += value
    return totals


def _refused(text: str) -> float:
    return sum(
        value
        for labels, value in series(text, "service_errors_resource_exhausted")
        if labels.get("namespace", NAMESPACE) == NAMESPACE
    )


def queue_health(before: Reading, after: Reading) -> dict[str, object]:
    """Whether the server or the worker fell behind between two readings: requests refused
    for a rate limit (``ResourceExhausted``), and how long tasks waited in their queues for a
    worker slot (mean schedule-to-start per task type; workflow tasks on the normal queue
    beyond a workflow's first are sticky-cache misses, replayed from history)."""
    if not (before.available and after.available):
        return {}
    earlier = _queued(before.text)
    waits: dict[str, object] = {}
    for key, (count, seconds) in sorted(_queued(after.text).items()):
        count -= earlier.get(key, [0.0, 0.0])[0]
        seconds -= earlier.get(key, [0.0, 0.0])[1]
        if count:
            waits[key] = {"tasks": round(count), "mean_wait_ms": round(1000 * seconds / count, 1)}
    refused = round(_refused(after.text) - _refused(before.text))
    return {"resource_exhausted_errors": refused, "schedule_to_start": waits}
