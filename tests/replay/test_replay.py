"""Saved histories must replay on the current workflow code.

A change to SyncWorkflow or ScheduledSyncWorkflow that would break runs already in flight
(a different sequence of commands for the same history) fails here, in CI, instead of in
production. Make such changes with ``workflow.patched(...)``; re-record the histories only
for workflows never deployed (see ``record_histories.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows import WORKFLOWS

ROOT = Path(__file__).parent / "histories"
CURRENT = sorted(ROOT.glob("*.json"))
"""Recorded by ``record_histories.py`` with today's workflows."""
ONE_PAGE_PER_ACTIVITY = sorted((ROOT / "one-page-per-activity").glob("*.json"))
"""Recorded before page batches (``workflows.sync.PAGE_BATCHES_PATCH``): such runs may still
be in flight when a worker with batches is deployed, so they must replay too."""
HISTORIES = CURRENT + ONE_PAGE_PER_ACTIVITY
SCENARIOS = {"full-sync", "continue-as-new", "failed-credentials", "scheduled-launcher"}


@pytest.mark.parametrize("paths", [CURRENT, ONE_PAGE_PER_ACTIVITY], ids=["current", "one-page"])
def test_there_are_histories_to_replay(paths: list[Path]) -> None:
    assert {path.stem.split("-run")[0] for path in paths} >= SCENARIOS


def test_the_current_histories_run_page_batches_and_the_old_ones_do_not() -> None:
    def activity_types(path: Path) -> set[str]:
        events = json.loads(path.read_text())["events"]
        return {
            event["activityTaskScheduledEventAttributes"]["activityType"]["name"]
            for event in events
            if "activityTaskScheduledEventAttributes" in event
        }

    full, old = ROOT / "full-sync.json", ROOT / "one-page-per-activity" / "full-sync.json"
    assert {"fetch_pages", "map_and_insert_pages"} <= activity_types(full)
    assert "fetch_page" not in activity_types(full)
    assert {"fetch_page", "map_and_insert"} <= activity_types(old)
    assert "fetch_pages" not in activity_types(old)


@pytest.mark.parametrize(
    "path", HISTORIES, ids=[str(path.relative_to(ROOT).with_suffix("")) for path in HISTORIES]
)
async def test_history_replays_deterministically(path: Path) -> None:
    text = path.read_text()
    events = json.loads(text)["events"]
    workflow_id = "replay-" + path.stem
    history = WorkflowHistory.from_json(workflow_id, text)
    assert len(events) > 5
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
