"""What each recorded history must show, so that a re-recording that lost its scenario fails.

Replay only proves a history matches the code; it says nothing about which paths the history
went through. A refetch that did not happen, a crash that hit no activity, a continue-as-new
that carried nothing would replay fine and cover nothing. Each check reads the activities of
its runs (``history.py``) and asserts the scenario happened. ``record_histories.py`` runs the
same checks right after recording, and ``test_replay.py`` on every saved history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from contracts.sync import ActivityName, ErrorType
from tests.replay.history import Activity, Run
from workflows.paging import PAGES_PER_ACTIVITY

COMPLETED = "WORKFLOW_EXECUTION_COMPLETED"
FAILED = "WORKFLOW_EXECUTION_FAILED"
FULL_SYNC_ACTIVITIES = {
    ActivityName.START_RUN,
    ActivityName.REFRESH_TOKEN,
    ActivityName.FETCH_PAGES,
    ActivityName.MAP_AND_INSERT_PAGES,
    ActivityName.DISPATCH,
    ActivityName.FINISH_RUN,
}


def _one_sync(runs: list[Run], closed: str) -> Run:
    assert len(runs) == 1, f"{len(runs)} runs, expected one"
    run = runs[0]
    assert run.workflow_type == "SyncWorkflow", run.workflow_type
    assert run.closed == closed, f"closed by {run.closed}, expected {closed}"
    return run


def _fetches(run: Run) -> list[Activity]:
    return run.named(ActivityName.FETCH_PAGES)


def _applied(run: Run) -> list[dict[str, Any]]:
    """Every page result of every apply, in order (an incremental sync's first pages first)."""
    first = [
        batch["first_applied"]
        for fetch in run.named(ActivityName.FETCH_FIRST_PAGES)
        if fetch.result
        for batch in fetch.result["batches"]
        if batch and batch["first_applied"]
    ]
    return first + [
        result
        for apply in run.named(ActivityName.MAP_AND_INSERT_PAGES)
        if apply.result
        for result in apply.result["results"]
    ]


def _first_fetch_per_stream(run: Run) -> dict[str, dict[str, Any]]:
    """The input of each stream's first fetch (of ``fetch_first_pages``, if it ran)."""
    first: dict[str, dict[str, Any]] = {}
    for together in run.named(ActivityName.FETCH_FIRST_PAGES):
        for stream in together.input["streams"]:
            first.setdefault(stream["fetch"]["stream"], stream["fetch"])
    for fetch in _fetches(run):
        first.setdefault(fetch.input["stream"], fetch.input)
    return first


def _streams(run: Run) -> set[str]:
    (start,) = run.named(ActivityName.START_RUN)
    return {stream["stream"] for stream in start.result["streams"]}


def _retried(run: Run) -> list[Activity]:
    return [activity for activity in run.activities if activity.attempt > 1]


def full_sync(runs: list[Run]) -> None:
    """Every stream from the start: ramped batches (1, 2, then full) fetched ahead of applies."""
    run = _one_sync(runs, COMPLETED)
    assert run.input["mode"] == "full" and run.input["resume"] is None, run.input
    assert {a.name for a in run.activities} == FULL_SYNC_ACTIVITIES
    first = _first_fetch_per_stream(run)
    assert set(first) == _streams(run), (set(first), _streams(run))
    assert all(f["cursor"] is None and f["max_pages"] == 1 for f in first.values())
    sizes = [fetch.input["max_pages"] for fetch in _fetches(run)]
    assert 2 in sizes and PAGES_PER_ACTIVITY in sizes, sizes
    assert run.overlapped, "no apply ran while the next batch was being fetched"
    assert not _retried(run), "a clean run retried an activity"


def incremental_sync(runs: list[Run]) -> None:
    """After a full sync and a few changes: each stream resumes at its stored cursor, all
    first pages in one activity, which applies the changes (a page per stream here)."""
    run = _one_sync(runs, COMPLETED)
    assert run.input["mode"] == "incremental" and run.input["resume"] is None, run.input
    assert len(run.named(ActivityName.FETCH_FIRST_PAGES)) == 1, "first pages not fetched at once"
    first = _first_fetch_per_stream(run)
    assert set(first) == _streams(run), (set(first), _streams(run))
    assert all(fetch["cursor"] for fetch in first.values()), "a stream started over"
    assert any(r["inserted"] or r["updated"] for r in _applied(run)), "no change was applied"
    assert not run.named(ActivityName.MAP_AND_INSERT_PAGES), "a one-page change applied apart"
    assert run.named(ActivityName.DISPATCH), "changes synced, nothing dispatched"


def continue_as_new(runs: list[Run]) -> None:
    """At least three runs; later runs resume without start_run and apply carried pages first."""
    assert len(runs) >= 3, f"{len(runs)} runs"
    assert all(run.continued_as_new for run in runs[:-1]), [run.closed for run in runs]
    assert runs[-1].closed == COMPLETED, runs[-1].closed
    assert runs[0].named(ActivityName.START_RUN) and runs[0].input["resume"] is None
    carried = 0
    for run in runs[1:]:
        resume = run.input["resume"]
        assert resume is not None and not run.named(ActivityName.START_RUN)
        if resume["pending_pages"]:
            carried += 1
        # Streams run at once: each stream's carried pages are the first it applies.
        for stream in {page["stream"] for page in resume["pending_pages"]}:
            pending = [p["page_id"] for p in resume["pending_pages"] if p["stream"] == stream]
            applied = [
                page["page_id"]
                for apply in run.named(ActivityName.MAP_AND_INSERT_PAGES)
                for page in apply.input["pages"]
                if page["stream"] == stream
            ]
            # The run's budget may end before all of them (or any) are applied.
            first = min(len(pending), len(applied))
            assert applied[:first] == pending[:first], (stream, pending, applied)
    assert carried, "no run carried staged pages into the next"


def worker_crash(runs: list[Run]) -> None:
    """A worker killed mid-sync: its activities time out and their work runs again.

    Retried after a heartbeat timeout, or — sent to the dead worker's own queue — timed out
    before starting, and then scheduled again on the shared queue.
    """
    run = _one_sync(runs, COMPLETED)
    retried = [a for a in _retried(run) if (a.previous_failure or "").startswith("timeout:")]
    timed_out = [a for a in run.activities if a.closed == "timed_out"]
    assert retried or timed_out, [(a.name, a.attempt, a.closed) for a in run.activities]


def api_retries(runs: list[Run]) -> None:
    """429s and 5xx from ServiceTitan fail fetch attempts, which are retried."""
    run = _one_sync(runs, COMPLETED)
    failures = {a.previous_failure for a in _retried(run) if a.name == ActivityName.FETCH_PAGES}
    assert {ErrorType.RATE_LIMITED, ErrorType.SERVICE_UNAVAILABLE} <= failures, failures


def staged_page_refetch(runs: list[Run]) -> None:
    """A staged page lost before its apply: the apply says missing, the page is fetched again."""
    run = _one_sync(runs, COMPLETED)
    applies = run.named(ActivityName.MAP_AND_INSERT_PAGES)
    assert any(apply.result and apply.result["missing"] for apply in applies)
    positions = Counter((f.input["stream"], f.input["cursor"]) for f in _fetches(run))
    assert any(count > 1 for count in positions.values()), positions


def disabled_mid_sync(runs: list[Run]) -> None:
    """Switched off during the sync: pages applied, then one reports disabled and the run ends."""
    run = _one_sync(runs, FAILED)
    assert run.failure_type == ErrorType.SYNC_DISABLED, run.failure_type
    results = _applied(run)
    assert results and results[0]["sync_enabled"], "disabled before any page was applied"
    assert not results[-1]["sync_enabled"], "no apply saw the switch"
    (finish,) = run.named(ActivityName.FINISH_RUN)  # a local activity: its input is not kept
    assert finish.closed == "completed"


def failed_credentials(runs: list[Run]) -> None:
    """ServiceTitan rejects the secret: no page is fetched, the run fails and says why."""
    run = _one_sync(runs, FAILED)
    assert run.failure_type == ErrorType.CREDENTIALS_REJECTED, run.failure_type
    assert not _fetches(run)
    (finish,) = run.named(ActivityName.FINISH_RUN)
    assert finish.closed == "completed"


def _launcher(runs: list[Run]) -> Run:
    assert len(runs) == 1, f"{len(runs)} runs"
    run = runs[0]
    assert run.workflow_type == "ScheduledSyncWorkflow", run.workflow_type
    assert run.closed == COMPLETED and run.children == ["SyncWorkflow"], (run.closed, run.children)
    return run


def scheduled_launcher(runs: list[Run]) -> None:
    """A schedule's launcher starts the credential's sync as a child and waits for it."""
    run = _launcher(runs)
    assert not run.child_start_failures and run.result["started"], run.result


def scheduled_launcher_skipped(runs: list[Run]) -> None:
    """A launch while the credential's sync runs: the child start is refused, nothing waits."""
    run = _launcher(runs)
    assert run.child_start_failures and not run.result["started"], run.result


SCENARIOS: dict[str, Callable[[list[Run]], None]] = {
    "full-sync": full_sync,
    "incremental-sync": incremental_sync,
    "continue-as-new": continue_as_new,
    "worker-crash": worker_crash,
    "api-retries": api_retries,
    "staged-page-refetch": staged_page_refetch,
    "disabled-mid-sync": disabled_mid_sync,
    "failed-credentials": failed_credentials,
    "scheduled-launcher": scheduled_launcher,
    "scheduled-launcher-skipped": scheduled_launcher_skipped,
}
"""Scenario name (the history's file name, before any ``-runN``) → its check."""
