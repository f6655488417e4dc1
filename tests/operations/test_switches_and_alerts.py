"""Kill switches (credential, company, global) and stale/failing alerts, in the CLI's rules
and on the metrics endpoint."""

from __future__ import annotations

import asyncio
import socket

import httpx
import psycopg
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from contracts.sync import LaunchInput
from db import credentials
from runtime import alerting
from tests.sync.conftest import TENANT
from tests.sync.harness import (
    HarnessFactory,
    SyncHarness,
    stored_invoices,
    stored_members,
)
from workflows.launcher import ScheduledSyncWorkflow


async def _switch(harness: SyncHarness, enabled: bool, **scope: int) -> None:
    async with harness.database.transaction() as connection:
        await credentials.set_sync_enabled(
            connection,
            enabled=enabled,
            reason=None if enabled else "contract paused",
            actor="test",
            **scope,
        )


async def _refused(harness: SyncHarness, credential: int, reason: str) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.sync(credential)
    assert reason in str(failure.value.cause)


def _applied_rows(harness: SyncHarness) -> tuple[int, int]:
    applied = harness.scalar(
        "SELECT coalesce(sum(records_applied), 0) FROM servicetitan_sync_state"
    )
    rows = sum(
        harness.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608
        for table in ("members_stream", "servicetitan_customer_contacts", "invoices_stream")
    )
    return int(applied), int(rows)


async def test_disabling_mid_sync_stops_at_a_page_boundary_and_enabling_resumes(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(latency_seconds=0.05)
    handle = await harness.start(credential)
    while (
        harness.scalar("SELECT coalesce(sum(pages_applied), 0) FROM servicetitan_sync_state") or 0
    ) < 3:
        await asyncio.sleep(0.02)
    await _switch(harness, False, credential_id=credential)

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "page boundary" in str(failure.value.cause) and "contract paused" in str(
        failure.value.cause
    )
    log = harness.rows("SELECT status, error_message FROM servicetitan_sync_logs")
    assert log[0][0] == "failed" and "credential is disabled: contract paused" in log[0][1]
    applied, rows = _applied_rows(harness)
    assert applied == rows and 0 < rows < 1000  # every committed page whole, nothing more

    # While disabled: manual syncs and scheduled launches are refused, nothing is written.
    await _refused(harness, credential, "refused: the credential is disabled")
    launched = await harness.client.execute_workflow(
        ScheduledSyncWorkflow.run,
        LaunchInput(credential_id=credential),
        id=f"launch-{harness.task_queue}",
        task_queue=harness.task_queue,
    )
    assert not launched.started and "disabled" in launched.detail
    assert harness.scalar("SELECT count(*) FROM servicetitan_sync_logs") == 1

    await _switch(harness, True, credential_id=credential)
    result = await harness.sync(credential)
    assert result.status == "completed"
    assert stored_members(harness, TENANT) == harness.expected_members(TENANT)
    assert stored_invoices(harness, TENANT) == harness.expected_invoices(TENANT)


async def test_a_disabled_company_stops_all_its_credentials(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    company = harness.scalar("SELECT company_id FROM servicetitan_credentials")
    await _switch(harness, False, company_id=company)
    await _refused(harness, credential, "its company is disabled")
    await _switch(harness, True, company_id=company)
    assert (await harness.sync(credential)).status == "completed"


async def test_the_global_switch_refuses_every_sync(make_harness: HarnessFactory) -> None:
    async with make_harness(sync_enabled=False) as harness:
        credential = await harness.add_tenant(TENANT)
        await _refused(harness, credential, "SYNC_ENABLED=false")
        assert harness.scalar("SELECT count(*) FROM servicetitan_sync_logs") == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_stale_and_failing_credentials_alert_in_the_cli_rules_and_the_metrics(
    harness: SyncHarness,
) -> None:
    failing = await harness.add_tenant(TENANT, secret="cs1.wrong")
    for _ in range(3):
        with pytest.raises(WorkflowFailureError):
            await harness.sync(failing)
    # A second tenant whose last success was three days ago, and a third that is fine.
    stale = await _second_credential(harness, TENANT, "STALE")  # another company, same tenant
    await harness.sync(stale)
    with psycopg.connect(harness.database_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE servicetitan_sync_logs SET started_at = now() - interval '3 days', "
            "completed_at = now() - interval '3 days' WHERE credential_id = %s",
            [stale],
        )
        connection.execute(
            "UPDATE servicetitan_credentials SET created_at = now() - interval '10 days'"
        )

    state = await alerting.current_state(harness.database, harness.client, harness.settings)
    kinds = {(a.credential_id, a.kind) for a in state.alerts}
    assert kinds == {(failing, "failing"), (failing, "stale"), (stale, "stale")}
    failing_alert = next(a for a in state.alerts if a.kind == "failing")
    assert "3 failed syncs in a row" in failing_alert.detail

    port = _free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )
    task = asyncio.create_task(
        alerting.export_gauges(runtime, harness.database, harness.client, harness.settings)
    )
    try:
        metrics = ""
        for _ in range(100):
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            if alerting.METRIC_STALE in metrics:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line.startswith("servicetitan_sync_")
    }

    def value(metric: str, credential: int) -> float:
        return next(
            v
            for k, v in samples.items()
            if k.startswith(metric + "{") and f'credential_id="{credential}"' in k
        )

    assert value(alerting.METRIC_FAILURES, failing) == 3
    assert value(alerting.METRIC_STALE, failing) == 1
    assert value(alerting.METRIC_STALE, stale) == 1
    assert value(alerting.METRIC_LAST_SUCCESS, failing) == 0
    assert value(alerting.METRIC_LAST_SUCCESS, stale) > 0
    assert value(alerting.METRIC_ENABLED, stale) == 1


async def _second_credential(harness: SyncHarness, tenant: int, intacct: str) -> int:
    spec = next(t for t in harness.sandbox.config.tenants if t.tenant_id == tenant)
    async with harness.database.transaction() as connection:
        company = await credentials.add_company(
            connection, name=f"Co {tenant}", intacct_id=intacct, primary_trade="HVAC", actor="t"
        )
        return await credentials.add_credential(
            connection,
            harness.worker_box,
            company_id=company,
            tenant_id=str(tenant),
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            environment="production",
            actor="t",
        )
