"""Every activity of a sync, bound to one worker's dependencies: what a worker registers.

One module per job: ``run_lifecycle`` (start_run, finish_run), ``tokens`` (refresh_token),
``fetch`` (fetch_pages), ``apply`` (map_and_insert_pages), ``first_pages``
(fetch_first_pages: both at once, for an incremental sync's first pages), ``dispatch``; how
a sync uses them is in docs/architecture.md. Their names are ``contracts.sync.ActivityName``:
workflow histories record them, so they never change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.apply import ApplyActivities
from activities.dependencies import SyncDependencies
from activities.dispatch import DispatchActivities
from activities.fetch import FetchActivities
from activities.first_pages import FirstPagesActivities
from activities.run_lifecycle import RunActivities
from activities.tokens import TokenActivities


def all_activities(deps: SyncDependencies) -> list[Callable[..., Any]]:
    runs = RunActivities(deps)
    fetch, apply = FetchActivities(deps), ApplyActivities(deps)
    return [
        runs.start_run,
        TokenActivities(deps).refresh_token,
        fetch.fetch_pages,
        apply.map_and_insert_pages,
        FirstPagesActivities(fetch, apply).fetch_first_pages,
        DispatchActivities(deps).dispatch,
        runs.finish_run,
    ]
