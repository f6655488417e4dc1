"""Starting, finding and watching a credential's sync from outside the worker.

Used by the CLI and the demo. The workflow id is fixed per credential, so "start" either
starts the one sync or finds the one already running — never a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contracts.sync import DataType, Mode, SyncInput, SyncProgress, SyncResult
from core.settings import Settings
from workflows.sync import WORKFLOW_TASK_TIMEOUT, SyncWorkflow, workflow_id_for


@dataclass(frozen=True)
class StartedSync:
    handle: WorkflowHandle[SyncWorkflow, SyncResult]
    started: bool  # False: one was already running and this is it

    @property
    def workflow_id(self) -> str:
        return self.handle.id


async def start_sync(
    client: Client,
    settings: Settings,
    credential_id: int,
    *,
    data_type: DataType = "both",
    mode: Mode = "incremental",
    from_date: str | None = None,
) -> StartedSync:
    workflow_id = workflow_id_for(credential_id)
    try:
        handle = await client.start_workflow(
            SyncWorkflow.run,
            SyncInput(
                credential_id=credential_id,
                data_type=data_type,
                trigger="manual",
                mode=mode,
                from_date=from_date,
                pages_before_continue_as_new=settings.sync_pages_before_continue_as_new,
            ),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            task_timeout=WORKFLOW_TASK_TIMEOUT,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        return StartedSync(handle, True)
    except WorkflowAlreadyStartedError:
        return StartedSync(client.get_workflow_handle_for(SyncWorkflow.run, workflow_id), False)


async def running_sync(
    client: Client, credential_id: int
) -> WorkflowHandle[SyncWorkflow, SyncResult] | None:
    """The credential's sync if one is running now."""
    handle = client.get_workflow_handle_for(SyncWorkflow.run, workflow_id_for(credential_id))
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return handle if description.status == WorkflowExecutionStatus.RUNNING else None


async def progress(handle: WorkflowHandle[SyncWorkflow, SyncResult]) -> SyncProgress:
    return await handle.query(SyncWorkflow.progress)


async def workers_polling(client: Client, settings: Settings) -> int:
    """How many workers poll the task queue (0: a started sync would just wait)."""
    try:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.temporal_task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except RPCError:
        return -1  # unknown (e.g. not permitted): do not warn
    return len(response.pollers)
