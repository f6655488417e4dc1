"""Access: a credential of one company writes rows of that company only.

Three ways to cross tenants are tried and must fail without writing anything:
* calling the activities with another credential's staged pages, sync run, import job or
  company (what a forged workflow input would make them do);
* starting a SyncWorkflow for company B with a forged ``resume`` that points at company A's
  running sync (the workflow input is the only thing a Temporal client controls);
* a credential whose tenant id names another company's ServiceTitan tenant (ServiceTitan
  answers 403: the token is bound to its own tenant).
And the positive side: after syncing two companies, every row carries its own company's id,
tenant, trade and import job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.apply import ApplyActivities
from activities.dependencies import SyncDependencies
from activities.dispatch import DispatchActivities
from activities.fetch import FetchActivities
from activities.run_lifecycle import RunActivities
from activities.tokens import TokenActivities
from contracts.sync import (
    STREAMS_FOR,
    ApplyPagesInput,
    DispatchInput,
    ErrorType,
    FetchPageInput,
    FinishRunInput,
    RefreshTokenInput,
    RunContext,
    StartRunInput,
    StreamProgress,
    SyncInput,
    SyncResume,
)
from db.database import Database
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.state import Sandbox
from tests.reliability.support import (
    LogCapture,
    ReliabilityReport,
    Scenario,
    SecretLedger,
    Stopwatch,
    add_credential,
    record_issued_tokens,
    scalar,
)
from tests.sync.harness import SyncHarness, sync_harness
from workflows.sync import SyncWorkflow, workflow_id_for

pytestmark = pytest.mark.reliability

TENANT_A, TENANT_B = 3101, 3102


@pytest.fixture
def sandbox(secret_ledger: SecretLedger) -> Sandbox:
    sandbox = Sandbox(
        SandboxConfig(
            tenants=[
                TenantSpec.make(TENANT_A, customers=60, invoices=90),
                TenantSpec.make(TENANT_B, customers=70, invoices=80),
            ],
            export_page_size=25,
        )
    )
    record_issued_tokens(sandbox, secret_ledger)
    return sandbox


@pytest.fixture
async def harness(
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
    captured_logs: LogCapture,
) -> AsyncIterator[SyncHarness]:
    async with sync_harness(
        sandbox=sandbox,
        database=database,
        database_url=database_url,
        client=temporal_client,
        encryption_keys=encryption_keys,
        tmp_path=tmp_path,
    ) as running:
        yield running


def _keys(harness: SyncHarness) -> str:
    keys = harness.settings.credential_encryption_keys
    assert keys is not None
    return keys.get_secret_value()


async def _start(env: ActivityEnvironment, deps: SyncDependencies, credential: int) -> RunContext:
    return await env.run(
        RunActivities(deps).start_run,
        StartRunInput(
            credential_id=credential,
            data_type="both",
            trigger="manual",
            mode="incremental",
            from_date=None,
            workflow_id=f"access-{credential}",
            run_id=f"run-{credential}",
        ),
    )


async def _denied(env: ActivityEnvironment, fn, argument) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await env.run(fn, argument)
    assert raised.value.type == ErrorType.ACCESS_DENIED, raised.value
    assert raised.value.non_retryable
    return raised.value


def _error_types(error: BaseException | None) -> list[str]:
    types = []
    while error is not None:
        if isinstance(error, ApplicationError) and error.type:
            types.append(error.type)
        error = error.__cause__
    return types


def _snapshot(harness: SyncHarness) -> tuple:
    """Everything a cross-tenant write could have touched."""
    return (
        harness.rows("SELECT count(*) FROM members_stream"),
        harness.rows("SELECT count(*) FROM invoices_stream"),
        harness.rows("SELECT count(*) FROM servicetitan_customer_contacts"),
        harness.rows("SELECT count(*) FROM servicetitan_sync_state"),
        harness.rows("SELECT count(*) FROM servicetitan_rejected_records"),
        harness.rows(
            "SELECT id, credential_id, status, records_processed, records_rejected, "
            "completed_at FROM servicetitan_sync_logs ORDER BY id"
        ),
        harness.rows(
            "SELECT id, company_id, status, progress_percent, progress_text, done "
            "FROM company_data_import_jobs ORDER BY id"
        ),
        harness.rows(
            "SELECT id, credential_id, sync_log_id, applied_at FROM servicetitan_staged_pages "
            "ORDER BY id"
        ),
        harness.rows(
            "SELECT sync_log_id, company_id, credential_id FROM servicetitan_dispatch_outbox "
            "ORDER BY sync_log_id"
        ),
    )


async def test_activities_refuse_another_companys_pages_run_import_job_or_company(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    watch = Stopwatch()
    spec_a, spec_b = (harness.sandbox.config.tenant(t) for t in (TENANT_A, TENANT_B))
    keys = _keys(harness)
    company_a, cred_a = await add_credential(
        harness.database, keys, spec_a, company="A Co", intacct_id="INT-A"
    )
    company_b, cred_b = await add_credential(
        harness.database, keys, spec_b, company="B Co", intacct_id="INT-B"
    )
    env = ActivityEnvironment()
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    deps = harness.dependencies()
    fetch, apply = FetchActivities(deps), ApplyActivities(deps)
    dispatch, runs = DispatchActivities(deps), RunActivities(deps)
    run_a = await _start(env, deps, cred_a)
    run_b = await _start(env, deps, cred_b)
    for credential in (cred_a, cred_b):
        await env.run(TokenActivities(deps).refresh_token, RefreshTokenInput(credential))
    batch_a = await env.run(
        fetch.fetch_pages,
        FetchPageInput(cred_a, run_a.sync_log_id, "customers", None, max_pages=2),
    )
    batch_b = await env.run(
        fetch.fetch_pages,
        FetchPageInput(cred_b, run_b.sync_log_id, "customers", None, max_pages=2),
    )
    pages_a, pages_b = batch_a.pages, batch_b.pages
    assert len(pages_a) == len(pages_b) == 2
    before = _snapshot(harness)

    refused = [
        # B applies A's pages, inside A's run or its own.
        (
            apply.map_and_insert_pages,
            ApplyPagesInput(cred_b, run_a.sync_log_id, run_a.import_job_id, pages_a),
        ),
        (
            apply.map_and_insert_pages,
            ApplyPagesInput(cred_b, run_b.sync_log_id, run_b.import_job_id, pages_a),
        ),
        # B slips one of A's pages into a batch of its own: the whole batch is refused.
        (
            apply.map_and_insert_pages,
            ApplyPagesInput(
                cred_b, run_b.sync_log_id, run_b.import_job_id, [pages_b[0], pages_a[1]]
            ),
        ),
        # B applies its own pages into A's run, or stamps its rows with A's import job.
        (
            apply.map_and_insert_pages,
            ApplyPagesInput(cred_b, run_a.sync_log_id, run_a.import_job_id, pages_b),
        ),
        (
            apply.map_and_insert_pages,
            ApplyPagesInput(cred_b, run_b.sync_log_id, run_a.import_job_id, pages_b),
        ),
        # B fetches into A's run.
        (fetch.fetch_pages, FetchPageInput(cred_b, run_a.sync_log_id, "invoices", None)),
        # B dispatches A's run (in A's name or its own), or its own run in A's company's name.
        (dispatch.dispatch, DispatchInput(run_a.sync_log_id, cred_b, company_a, 10)),
        (dispatch.dispatch, DispatchInput(run_a.sync_log_id, cred_b, company_b, 10)),
        (dispatch.dispatch, DispatchInput(run_b.sync_log_id, cred_b, company_a, 10)),
        # B closes A's run, or its own run with A's import job.
        (runs.finish_run, _closing(run_a.sync_log_id, cred_b, run_a.import_job_id)),
        (runs.finish_run, _closing(run_b.sync_log_id, cred_b, run_a.import_job_id)),
    ]
    for activity, argument in refused:
        await _denied(env, activity, argument)
    # A retried fetch first looks for pages an earlier attempt staged: A's, here.
    await _denied(
        retry,
        fetch.fetch_pages,
        FetchPageInput(cred_b, run_a.sync_log_id, "customers", None, max_pages=2),
    )
    attempts = len(refused) + 1
    assert _snapshot(harness) == before

    # The rightful owner applies its pages and dispatches its run: the rows are A's only.
    applied = await env.run(
        apply.map_and_insert_pages,
        ApplyPagesInput(cred_a, run_a.sync_log_id, run_a.import_job_id, pages_a),
    )
    records_a = sum(page.record_count for page in pages_a)
    assert sum(result.inserted for result in applied.results) == records_a > 0
    owners = harness.rows(
        "SELECT DISTINCT company_id, tenant, source_tenant_id, hub_plus_import_id "
        "FROM members_stream"
    )
    assert owners == [(company_a, "INT-A", str(TENANT_A), run_a.import_job_id)]
    handed_off = await env.run(
        dispatch.dispatch, DispatchInput(run_a.sync_log_id, cred_a, company_a, records_a)
    )
    assert handed_off.dispatched
    assert harness.rows(
        "SELECT sync_log_id, company_id, credential_id FROM servicetitan_dispatch_outbox"
    ) == [(run_a.sync_log_id, company_a, cred_a)]
    report.add(
        Scenario(
            "access: activities across companies",
            records=records_a + sum(page.record_count for page in pages_b),
            injected=f"{attempts} cross-company calls",
            expected_rows=records_a,
            found_rows=scalar(harness.database_url, "SELECT count(*) FROM members_stream"),
            seconds=watch.seconds,
            note="every cross-company call refused (AccessDenied), nothing written",
        )
    )


def _closing(sync_log_id: int, credential_id: int, import_job_id: int) -> FinishRunInput:
    return FinishRunInput(
        sync_log_id=sync_log_id,
        credential_id=credential_id,
        import_job_id=import_job_id,
        status="failed",
        records_processed=0,
        records_rejected=0,
        error_message="closed by another credential",
    )


async def test_a_forged_resume_cannot_write_into_another_companys_run(
    harness: SyncHarness,
) -> None:
    spec_a, spec_b = (harness.sandbox.config.tenant(t) for t in (TENANT_A, TENANT_B))
    keys = _keys(harness)
    company_a, cred_a = await add_credential(
        harness.database, keys, spec_a, company="A Co", intacct_id="INT-A"
    )
    _company_b, cred_b = await add_credential(
        harness.database, keys, spec_b, company="B Co", intacct_id="INT-B"
    )
    env = ActivityEnvironment()
    run_a = await _start(env, harness.dependencies(), cred_a)  # A's sync is running
    before = _snapshot(harness)

    forged = SyncResume(
        sync_log_id=run_a.sync_log_id,
        import_job_id=run_a.import_job_id,
        company_id=company_a,
        tenant_id=str(TENANT_A),
        streams=[StreamProgress(stream) for stream in STREAMS_FOR["both"]],
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.client.execute_workflow(
            SyncWorkflow.run,
            SyncInput(credential_id=cred_b, resume=forged),
            id=workflow_id_for(cred_b),
            task_queue=harness.task_queue,
            execution_timeout=timedelta(minutes=2),
        )
    assert ErrorType.ACCESS_DENIED in _error_types(failure.value), failure.value
    # Nothing of A's run changed and no rows were written for anyone.
    assert _snapshot(harness) == before


async def test_a_credential_pointing_at_another_tenant_is_refused_and_writes_nothing(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    watch = Stopwatch()
    spec_a = harness.sandbox.config.tenant(TENANT_A)
    keys = _keys(harness)
    # Company A's client id and secret, but tenant B's id: the token is bound to tenant A.
    _company, credential = await add_credential(
        harness.database, keys, spec_a, company="A Co", intacct_id="INT-A", tenant_id=TENANT_B
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.sync(credential)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == ErrorType.CREDENTIALS_REJECTED, cause
    assert "\n" not in cause.message and cause.message
    assert watch.seconds < 30
    assert harness.sandbox.counters.auth_failures["wrong_tenant"] >= 1
    for table in ("members_stream", "invoices_stream", "servicetitan_customer_contacts"):
        assert harness.scalar(f"SELECT count(*) FROM {table}") == 0  # noqa: S608
    assert harness.rows("SELECT status FROM servicetitan_sync_logs") == [("failed",)]
    report.add(
        Scenario(
            "access: credential aimed at another tenant",
            injected="403 wrong tenant",
            seconds=watch.seconds,
            note=f"failed in {watch.seconds:.1f}s: {cause.message[:80]}",
        )
    )


async def test_rows_always_carry_their_own_companys_id(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    """Two companies on the same ServiceTitan tenant and one on another: rows never mix."""
    watch = Stopwatch()
    keys = _keys(harness)
    spec_a, spec_b = (harness.sandbox.config.tenant(t) for t in (TENANT_A, TENANT_B))
    owners = {}
    for name, spec in (("A1", spec_a), ("A2", spec_a), ("B", spec_b)):
        company, credential = await add_credential(
            harness.database, keys, spec, company=f"{name} Co", intacct_id=f"INT-{name}"
        )
        result = await harness.sync(credential)
        assert result.status == "completed"
        owners[company] = (f"INT-{name}", str(spec.tenant_id), result.sync_log_id)
    for table in ("members_stream", "invoices_stream"):
        rows = harness.rows(
            f"SELECT r.company_id, r.tenant, r.source_tenant_id, j.company_id, l.id "  # noqa: S608
            f"FROM {table} r JOIN company_data_import_jobs j ON j.id = r.hub_plus_import_id "
            "JOIN servicetitan_sync_logs l ON l.import_job_id = j.id "
            "GROUP BY 1, 2, 3, 4, 5"
        )
        assert {row[0]: (row[1], row[2], row[4]) for row in rows} == owners
        assert all(row[0] == row[3] for row in rows)
    per_company = harness.rows(
        "SELECT company_id, count(*) FROM members_stream GROUP BY 1 ORDER BY 1"
    )
    assert [n for _c, n in per_company] == [60, 60, 70]
    report.add(
        Scenario(
            "access: 3 companies, 2 tenants",
            records=sum(n for _c, n in per_company),
            expected_rows=190,
            found_rows=sum(n for _c, n in per_company),
            seconds=watch.seconds,
            note="every row's company, tenant and import job are its own credential's",
        )
    )
