"""Saved histories must replay on the current workflow code, and show what they are named for.

A change to SyncWorkflow or ScheduledSyncWorkflow that gives a recorded history a different
sequence of commands would break the runs in flight when it is deployed; it fails here, in CI,
instead. From the first release on, such a change goes behind ``workflow.patched(...)``: move
the current histories to ``histories/<before-the-change>/``, where they keep replaying until no
run of the old code can be in flight (docs/operations.md), and record new ones with
``record_histories.py``.

Replay alone does not say which paths a history went through, so every current history is
also checked against its scenario (``scenarios.py``): a re-recording that lost its crash, its
refetch or its carried pages fails here too.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.replay.history import read_runs, run_number, scenario_of
from tests.replay.scenarios import SCENARIOS
from workflows import WORKFLOWS

ROOT = Path(__file__).parent / "histories"
CURRENT = sorted(ROOT.glob("*.json"))
"""Recorded by ``record_histories.py`` with today's workflows: one scenario each."""
KEPT = sorted(ROOT.glob("*/*.json"))
"""Histories of earlier workflow code (a directory per change), while such runs may be live."""
HISTORIES = CURRENT + KEPT


def _by_scenario(paths: list[Path]) -> dict[str, list[Path]]:
    grouped: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        grouped[scenario_of(path)].append(path)
    return grouped


def test_every_scenario_has_a_history_and_every_history_a_scenario() -> None:
    assert set(_by_scenario(CURRENT)) == set(SCENARIOS)


def test_the_runs_of_a_continued_history_are_numbered_from_one() -> None:
    for name, paths in _by_scenario(CURRENT).items():
        if len(paths) == 1:
            assert paths[0].stem == name
        else:
            assert sorted(run_number(path) for path in paths) == list(range(1, len(paths) + 1))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_history_shows_its_scenario(scenario: str) -> None:
    SCENARIOS[scenario](read_runs(_by_scenario(CURRENT)[scenario]))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_check_rejects_another_scenario(scenario: str) -> None:
    """The checks can fail: a clean full sync is no other scenario, an incremental no full one."""
    other = "incremental-sync" if scenario == "full-sync" else "full-sync"
    with pytest.raises(AssertionError):
        SCENARIOS[scenario](read_runs(_by_scenario(CURRENT)[other]))


@pytest.mark.parametrize(
    "path", HISTORIES, ids=[str(path.relative_to(ROOT).with_suffix("")) for path in HISTORIES]
)
async def test_history_replays_deterministically(path: Path) -> None:
    history = WorkflowHistory.from_json("replay-" + path.stem, path.read_text())
    assert len(history.events) > 5
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
