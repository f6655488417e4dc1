"""A database error that quotes a customer reaches no history, sync log or audit row.

The sync's apply fails on a CHECK constraint planted on the quarantine table while it stores a
rejected customer record: PostgreSQL's message quotes the failing row (DETAIL) and SQLAlchemy's
would quote the statement's parameters — the raw record, with the customer's name. The sync
must fail with a message naming the error's type and SQLSTATE only: the name must appear in
neither ``servicetitan_sync_logs.error_message``, the audit rows, nor the workflow history,
while the worker's own log keeps the full error for the operator.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import structlog
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.registry import all_activities
from db.database import Database
from runtime.activity_errors import ActivityErrorInterceptor
from runtime.worker import make_dependencies
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.reliability.support import ReliabilityReport, Scenario, Stopwatch, history_text
from tests.sync.harness import sync_harness
from workflows import WORKFLOWS
from workflows import sync as sync_workflow

pytestmark = pytest.mark.reliability

TENANT = 4701


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxConfig(tenants=[TenantSpec.make(TENANT, customers=40, invoices=40)]))


def _planted_customer(sandbox: Sandbox) -> str:
    """A customer record the sync must reject; returns its name (the PII to look for)."""
    (injected,) = sandbox.inject_bad_records(TENANT, "customers", ["unparsable_date"])
    record = next(r for r in sandbox.customers(TENANT) if r.get("id") == injected.id)
    name = str(record["name"])
    assert len(name) >= 6, name
    return name


async def test_a_database_error_quoting_a_customer_stays_out_of_history_logs_and_audit(
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    report: ReliabilityReport,
) -> None:
    watch = Stopwatch()
    name = _planted_customer(sandbox)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "ALTER TABLE servicetitan_rejected_records "
            "ADD CONSTRAINT quarantine_closed CHECK (false) NOT VALID"
        )
    # Two quick attempts instead of 40 over minutes; the workflow then fails the sync.
    monkeypatch.setattr(
        sync_workflow,
        "_DB_RETRY",
        dataclasses.replace(
            sync_workflow._DB_RETRY, maximum_attempts=2, initial_interval=timedelta(seconds=1)
        ),
    )
    async with sync_harness(
        sandbox=sandbox,
        database=database,
        database_url=database_url,
        client=temporal_client,
        encryption_keys=encryption_keys,
        tmp_path=tmp_path,
        run_worker=False,
    ) as harness:
        deps = make_dependencies(
            harness.settings, database, harness.client_config, temporal_client, http=harness.http
        )
        # build_worker's worker, but unsandboxed so the shrunk retry policy applies.
        worker = Worker(
            temporal_client,
            task_queue=harness.task_queue,
            workflows=WORKFLOWS,
            activities=all_activities(deps),
            workflow_runner=UnsandboxedWorkflowRunner(),
            interceptors=[ActivityErrorInterceptor()],
        )
        credential = await harness.add_tenant(TENANT)
        with structlog.testing.capture_logs() as logs:
            async with worker:
                handle = await harness.start(credential)
                with pytest.raises(WorkflowFailureError):
                    await handle.result()
        raw_history, decoded_history = await history_text(handle)
        (log_row,) = harness.rows("SELECT status, error_message FROM servicetitan_sync_logs")
        audit = json.dumps([row[0] for row in harness.rows("SELECT details FROM audit_log")])

    status, message = log_row
    assert status == "failed"
    assert "IntegrityError" in message and "23514" in message, message
    assert "quarantine_closed" in message and "servicetitan_rejected_records" in message
    for place, text in (
        ("servicetitan_sync_logs.error_message", message),
        ("audit rows", audit),
        ("workflow history", raw_history + decoded_history),
    ):
        assert name not in text, f"the customer's name in {place}"
        assert "Failing row" not in text and "[parameters" not in text, place
    assert "sync.failed" in json.dumps(harness.rows("SELECT action FROM audit_log"))
    # The operator still finds the whole error in the worker's log.
    unexpected = [event for event in logs if event.get("error_type") == "IntegrityError"]
    assert unexpected and name in str(unexpected[0]["exc_info"])
    report.add(
        Scenario(
            "errors: database error quoting PII",
            injected="CHECK violation on the quarantine",
            seconds=watch.seconds,
            note=f"sync failed with: {message[:80]}",
        )
    )
