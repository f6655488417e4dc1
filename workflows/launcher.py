"""ScheduledSyncWorkflow: what a Temporal Schedule starts for a credential.

Temporal Schedules give each run a fresh workflow id (the schedule's id plus a timestamp), so
a schedule alone cannot enforce "one sync per credential". This thin launcher starts the
credential's SyncWorkflow as a child under the fixed id ``servicetitan-sync-<credential>``:
if a sync is already running — a manual one, or a previous run that is still going — Temporal
refuses the start and the launcher finishes as "already running". While the child runs the
launcher waits, so the schedule's overlap policy (skip) skips ticks instead of piling them up.
The child is abandoned, not killed, if the launcher goes away (a deleted schedule must not
cut a sync in half).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import (
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)

with workflow.unsafe.imports_passed_through():
    from contracts.sync import ErrorType, LaunchInput, LaunchResult, SyncInput, SyncResult
    from workflows.sync import WORKFLOW_TASK_TIMEOUT, SyncWorkflow, workflow_id_for


@workflow.defn(name="ScheduledSyncWorkflow")
class ScheduledSyncWorkflow:
    @workflow.run
    async def run(self, input: LaunchInput) -> LaunchResult:
        sync_id = workflow_id_for(input.credential_id)
        try:
            handle = await workflow.start_child_workflow(
                SyncWorkflow.run,
                SyncInput(
                    credential_id=input.credential_id,
                    data_type=input.data_type,
                    trigger="scheduled",
                    mode=input.mode,
                    pages_before_continue_as_new=input.pages_before_continue_as_new,
                ),
                id=sync_id,
                task_timeout=WORKFLOW_TASK_TIMEOUT,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=workflow.info().typed_search_attributes,
            )
        except WorkflowAlreadyStartedError:
            return LaunchResult(False, sync_id, "skipped: a sync of this credential is running")
        try:
            result: SyncResult = await handle
        except ChildWorkflowError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.SYNC_DISABLED:
                return LaunchResult(False, sync_id, f"skipped: {cause.message}")
            raise
        return LaunchResult(
            True,
            sync_id,
            f"{result.status}: {result.records_processed} records, "
            f"{result.records_rejected} rejected",
        )
