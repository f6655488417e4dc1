"""``dispatch``: hand a finished run's records over to downstream processing, once per run.

The hand-off is a row of the dispatch outbox (``db.dispatch``), recorded however often the
activity is retried; when a downstream workflow is configured, it is started too, with an id
derived from the run so a retry cannot start it twice.
"""

from __future__ import annotations

import contextlib

from temporalio import activity
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.dependencies import SyncDependencies
from activities.ownership import check_run
from contracts.sync import ActivityName, DispatchInput, DispatchResult
from db import dispatch as outbox


class DispatchActivities:
    def __init__(self, deps: SyncDependencies) -> None:
        self.deps = deps

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        """Record the hand-off (once per run) and start the downstream workflow if configured."""
        async with self.deps.database.transaction() as connection:
            await check_run(
                connection, input.credential_id, input.sync_log_id, company_id=input.company_id
            )
            entry = await outbox.record(
                connection,
                sync_log_id=input.sync_log_id,
                company_id=input.company_id,
                credential_id=input.credential_id,
                records_synced=input.records_synced,
            )
        settings = self.deps.settings
        if entry.status == "dispatched":
            return DispatchResult(True, entry.target_workflow_id, "already dispatched")
        if not settings.downstream_workflow or self.deps.temporal is None:
            return DispatchResult(True, None, "hand-off recorded in the dispatch outbox")
        workflow_id = f"downstream-{input.company_id}-{input.sync_log_id}"
        with contextlib.suppress(WorkflowAlreadyStartedError):  # a retried dispatch
            await self.deps.temporal.start_workflow(
                settings.downstream_workflow,
                {
                    "company_id": input.company_id,
                    "credential_id": input.credential_id,
                    "sync_log_id": input.sync_log_id,
                    "records_synced": input.records_synced,
                },
                id=workflow_id,
                task_queue=settings.downstream_task_queue or settings.temporal_task_queue,
            )
        async with self.deps.database.transaction() as connection:
            await outbox.mark_dispatched(connection, input.sync_log_id, workflow_id)
        return DispatchResult(True, workflow_id, f"started {settings.downstream_workflow}")
