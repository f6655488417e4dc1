"""``start_run`` and ``finish_run``: open a sync run's bookkeeping, and close it.

Starting checks the kill switches and returns where each stream starts; a retried start
returns the same run. Finishing records the outcome on the sync log, the import job and the
credential, and drops the run's staged pages; a retried finish changes nothing.
"""

from __future__ import annotations

import dataclasses

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.dependencies import SyncDependencies
from activities.ownership import check_run
from activities.tokens import cached_refresh_after
from contracts.sync import (
    STREAMS_FOR,
    ActivityName,
    ErrorType,
    FinishRunInput,
    RunContext,
    StartRunInput,
    StreamProgress,
)
from core import metrics
from core.logging import get_logger
from db import runs
from db.credentials import NotFoundError, credential_context
from db.fleet_metrics import run_outcome
from db.progress import sync_allowed

log = get_logger(__name__)


class RunActivities:
    def __init__(self, deps: SyncDependencies) -> None:
        self.deps = deps

    @activity.defn(name=ActivityName.START_RUN)
    async def start_run(self, input: StartRunInput) -> RunContext:
        streams = STREAMS_FOR[input.data_type]
        async with self.deps.database.transaction() as connection:
            try:
                credential = await credential_context(connection, input.credential_id, lock=True)
            except NotFoundError as error:
                raise errors.from_lookup(error) from None
            allowed, reason = await sync_allowed(
                connection, input.credential_id, globally=self.deps.settings.sync_enabled
            )
            if not allowed:
                raise ApplicationError(
                    f"sync of credential {input.credential_id} refused: {reason}",
                    type=ErrorType.SYNC_DISABLED,
                    non_retryable=True,
                )
            started = await runs.start_run(
                connection,
                credential,
                streams=streams,
                sync_type=input.trigger,
                data_type=input.data_type,
                mode=input.mode,
                from_date=input.from_date,
                workflow_id=input.workflow_id,
                run_id=input.run_id,
                actor=self.deps.actor,
            )
        log.info(
            "sync run started",
            credential_id=input.credential_id,
            sync_log_id=started.sync_log_id,
            mode=input.mode,
            data_type=input.data_type,
        )
        if not started.resumed:
            metrics.current().run_started(input.trigger, input.data_type)
        # A token cached by an earlier sync spares the workflow its refresh activity.
        token_due = await cached_refresh_after(self.deps, input.credential_id)
        return RunContext(
            sync_log_id=started.sync_log_id,
            import_job_id=started.import_job_id,
            company_id=credential.company_id,
            tenant_id=credential.tenant_id,
            streams=[
                StreamProgress(stream=stream, cursor=started.cursors[stream]) for stream in streams
            ],
            token_refresh_after=token_due.isoformat() if token_due else None,
        )

    @activity.defn(name=ActivityName.FINISH_RUN)
    async def finish_run(self, input: FinishRunInput) -> None:
        async with self.deps.database.transaction() as connection:
            await check_run(
                connection,
                input.credential_id,
                input.sync_log_id,
                import_job_id=input.import_job_id,
            )
            closed = await runs.finish_run(
                connection,
                sync_log_id=input.sync_log_id,
                credential_id=input.credential_id,
                import_job_id=input.import_job_id,
                status=input.status,
                records_processed=input.records_processed,
                records_rejected=input.records_rejected,
                details={"streams": [dataclasses.asdict(s) for s in input.streams]},
                error_message=input.error_message,
                credentials_rejected=input.credentials_rejected,
                actor=self.deps.actor,
            )
            outcome = await run_outcome(connection, input.sync_log_id) if closed else None
        if outcome is not None:
            metrics.current().run_finished(
                outcome.trigger, outcome.data_type, input.status, outcome.duration_seconds
            )
        if closed:
            log.info(
                "sync run finished",
                credential_id=input.credential_id,
                sync_log_id=input.sync_log_id,
                status=input.status,
                records=input.records_processed,
                rejected=input.records_rejected,
                error=input.error_message,
            )
