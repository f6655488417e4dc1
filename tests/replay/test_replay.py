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

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    names = {path.stem.split("-run")[0] for path in HISTORIES}
    assert {"full-sync", "continue-as-new", "failed-credentials", "scheduled-launcher"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
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
