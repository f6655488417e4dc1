"""A stand-in for the platform's downstream processing, in its own module: Temporal's
workflow sandbox re-imports a workflow's module, so it must not import the test's helpers."""

from __future__ import annotations

from typing import Any

from temporalio import workflow


@workflow.defn(name="DownstreamProcessing")
class DownstreamProcessing:
    """Echoes what it was handed, so the test can check the hand-off."""

    @workflow.run
    async def run(self, handoff: dict[str, Any]) -> dict[str, Any]:
        return handoff
