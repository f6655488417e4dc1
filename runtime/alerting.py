"""Alert state, computed one way for ``starter.py alerts`` and the worker's Prometheus gauges.

Thresholds: ``ALERT_STALE_AFTER_SECONDS`` when set; otherwise twice the credential's schedule
interval (a missed run or two is noise, more is a silent stop), and 48 h without a schedule.
Failures: ``ALERT_CONSECUTIVE_FAILURES`` failed runs since the last success. Reject spikes: the
last sync quarantined more than ``ALERT_REJECT_SPIKE_RECORDS`` records or more than
``ALERT_REJECT_SPIKE_PERCENT`` % of what it received.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import Runtime

from core.logging import get_logger
from core.settings import Settings
from db import reports
from db.database import Database
from runtime import schedules

log = get_logger(__name__)

METRIC_LAST_SUCCESS = "servicetitan_sync_last_success_timestamp_seconds"
METRIC_FAILURES = "servicetitan_sync_consecutive_failures"
METRIC_STALE = "servicetitan_sync_credential_stale"
METRIC_ENABLED = "servicetitan_sync_credential_enabled"
METRIC_REJECT_SPIKE = "servicetitan_sync_reject_spike"


@dataclass(frozen=True)
class AlertState:
    health: list[reports.CredentialHealth]
    alerts: list[reports.Alert]
    thresholds: dict[int, timedelta]
    default_threshold: timedelta


async def stale_thresholds(client: Client, settings: Settings) -> dict[int, timedelta]:
    if settings.alert_stale_after_seconds:
        return {}
    return {
        s.credential_id: timedelta(seconds=2 * s.interval_seconds)
        for s in await schedules.list_summaries(client)
        if s.interval_seconds
    }


async def current_state(database: Database, client: Client, settings: Settings) -> AlertState:
    async with database.transaction() as connection:
        health = await reports.credential_health(connection)
    thresholds = await stale_thresholds(client, settings)
    default = (
        timedelta(seconds=settings.alert_stale_after_seconds)
        if settings.alert_stale_after_seconds
        else reports.DEFAULT_STALE_AFTER
    )
    alerts = reports.evaluate_alerts(
        health,
        stale_after=thresholds,
        default_stale_after=default,
        consecutive_failures=settings.alert_consecutive_failures,
        reject_spike=reports.RejectSpike(
            settings.alert_reject_spike_records, settings.alert_reject_spike_percent
        ),
    )
    return AlertState(health, alerts, thresholds, default)


async def export_gauges(
    runtime: Runtime,
    database: Database,
    client: Client,
    settings: Settings,
    *,
    interval_seconds: float = 60.0,
) -> None:
    """Refresh the alert gauges on the worker's metrics endpoint until cancelled."""
    meter = runtime.metric_meter
    last_success = meter.create_gauge_float(
        METRIC_LAST_SUCCESS, "Unix time of the credential's last completed sync (0: never)", "s"
    )
    failures = meter.create_gauge(METRIC_FAILURES, "Failed syncs since the last success")
    stale = meter.create_gauge(METRIC_STALE, "1 when the last success is older than allowed")
    enabled = meter.create_gauge(METRIC_ENABLED, "1 when the credential may sync")
    spiked = meter.create_gauge(
        METRIC_REJECT_SPIKE, "1 when the last sync quarantined more records than allowed"
    )
    while True:
        started = time.monotonic()
        try:
            state = await current_state(database, client, settings)
        except Exception as error:  # metrics must never take the worker down
            log.warning("alert gauges not refreshed", error=f"{type(error).__name__}: {error}")
        else:
            stale_ids = {a.credential_id for a in state.alerts if a.kind == "stale"}
            spike_ids = {a.credential_id for a in state.alerts if a.kind == "rejects"}
            for item in state.health:
                labels = {
                    "credential_id": str(item.credential_id),
                    "company_id": str(item.company_id),
                    "tenant_id": item.tenant_id,
                }
                last_success.set(
                    item.last_success_at.timestamp() if item.last_success_at else 0.0, labels
                )
                failures.set(item.consecutive_failures, labels)
                stale.set(1 if item.credential_id in stale_ids else 0, labels)
                enabled.set(1 if item.enabled else 0, labels)
                spiked.set(1 if item.credential_id in spike_ids else 0, labels)
        await asyncio.sleep(max(1.0, interval_seconds - (time.monotonic() - started)))
