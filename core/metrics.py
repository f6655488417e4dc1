"""The product's Prometheus metrics: names, labels, buckets, and one place that records them.

They are created on the Temporal runtime's metric meter, so they are served on the worker's
existing endpoint (``METRICS_ADDRESS``, the SDK's Prometheus exporter) next to the SDK's own
``temporal_*`` metrics. Until ``install`` is given a meter (a worker with METRICS_ADDRESS),
every recording goes to a no-op meter and costs next to nothing.

Labels stay bounded: endpoint templates (never URLs), status classes, error type names,
streams, triggers, data types, and credential ids (never tenant names or other free text).
``SyncMetrics`` is also the ServiceTitan client's observer (``servicetitan.observer``).
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.common import MetricMeter

from contracts.sync import ApplyResult

# ServiceTitan API
API_REQUEST_DURATION = "servicetitan_api_request_duration_seconds"
API_THROTTLED = "servicetitan_api_throttled_total"
API_RETRY_AFTER = "servicetitan_api_retry_after_seconds"
API_AUTH_REQUESTS = "servicetitan_api_token_requests_total"
# Syncs
RUNS_STARTED = "servicetitan_sync_runs_started_total"
RUNS_FINISHED = "servicetitan_sync_runs_finished_total"
RUN_DURATION = "servicetitan_sync_run_duration_seconds"
RECORDS = "servicetitan_sync_records_total"
PAGES_FETCHED = "servicetitan_sync_pages_fetched_total"
PAGES_REFETCHED = "servicetitan_sync_pages_refetched_total"
# Fleet state, refreshed by the worker's collector (runtime/metrics_collector.py)
DATA_AGE = "servicetitan_sync_data_age_seconds"
SUCCESS_AGE = "servicetitan_sync_success_age_seconds"
OUTBOX_PENDING = "servicetitan_outbox_pending_rows"
OUTBOX_OLDEST_AGE = "servicetitan_outbox_oldest_pending_age_seconds"
STAGED_WAITING = "servicetitan_staged_pages_waiting"
WORKER_CPU = "servicetitan_worker_cpu_percent"
WORKER_RSS = "servicetitan_worker_memory_rss_bytes"

HISTOGRAM_BUCKETS: dict[str, list[float]] = {
    API_REQUEST_DURATION: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    API_RETRY_AFTER: [1, 2, 5, 10, 30, 60, 120, 300],
    RUN_DURATION: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600],
}
"""Given to the Prometheus exporter (``core.temporal.metrics_runtime``): seconds, not the
SDK's default millisecond buckets."""


def status_class(status: int | None) -> str:
    """``2xx``/``4xx``/``5xx``…, or ``none`` when no response came (timeout, reset)."""
    return "none" if status is None else f"{status // 100}xx"


class SyncMetrics:
    """Every product metric, created on one meter; methods record with bounded labels."""

    def __init__(self, meter: MetricMeter) -> None:
        self.request_duration = meter.create_histogram_float(
            API_REQUEST_DURATION, "ServiceTitan API request latency by endpoint template", "s"
        )
        self.throttled_total = meter.create_counter(
            API_THROTTLED, "429 answers from ServiceTitan, by endpoint and credential"
        )
        self.retry_after = meter.create_histogram_float(
            API_RETRY_AFTER, "Retry-After of each 429 (its sum: seconds waited)", "s"
        )
        self.token_requests = meter.create_counter(
            API_AUTH_REQUESTS, "Token requests: outcome issued, or the failure's error type"
        )
        self.runs_started = meter.create_counter(RUNS_STARTED, "Sync runs started")
        self.runs_finished = meter.create_counter(RUNS_FINISHED, "Sync runs finished, by status")
        self.run_duration = meter.create_histogram_float(
            RUN_DURATION, "Duration of finished sync runs", "s"
        )
        self.records = meter.create_counter(
            RECORDS, "Records applied (inserted or updated), unchanged or rejected, per stream"
        )
        self.pages_fetched = meter.create_counter(PAGES_FETCHED, "Export pages fetched and staged")
        self.pages_refetched = meter.create_counter(
            PAGES_REFETCHED, "Pages fetched again at a position this run had staged already"
        )
        self.data_age = meter.create_gauge_float(
            DATA_AGE, "Seconds since the newest applied modifiedOn, per credential and stream", "s"
        )
        self.success_age = meter.create_gauge_float(
            SUCCESS_AGE, "Seconds since the last completed sync covering the stream", "s"
        )
        self.outbox_pending = meter.create_gauge(OUTBOX_PENDING, "Outbox rows not acknowledged yet")
        self.outbox_oldest_age = meter.create_gauge_float(
            OUTBOX_OLDEST_AGE, "Age of the oldest unacknowledged outbox row (0: none)", "s"
        )
        self.staged_waiting = meter.create_gauge(
            STAGED_WAITING, "Staged pages not applied yet, per stream"
        )
        self.worker_cpu = meter.create_gauge_float(
            WORKER_CPU, "CPU use of the worker and its mapping processes (100 = one core)"
        )
        self.worker_rss = meter.create_gauge(
            WORKER_RSS, "Resident memory of the worker and its mapping processes", "By"
        )

    # --- the ServiceTitan client's observer -----------------------------------------------

    def request(self, endpoint: str, status: int | None, seconds: float) -> None:
        labels = {"endpoint": endpoint, "status_class": status_class(status)}
        self.request_duration.record(seconds, labels)

    def throttled(self, endpoint: str, credential_id: int, retry_after: float) -> None:
        self.throttled_total.add(1, {"endpoint": endpoint, "credential_id": str(credential_id)})
        self.retry_after.record(retry_after, {"endpoint": endpoint})

    def token(self, outcome: str) -> None:
        self.token_requests.add(1, {"outcome": outcome})

    # --- activities ----------------------------------------------------------------------

    def run_started(self, trigger: str, data_type: str) -> None:
        self.runs_started.add(1, {"trigger": trigger, "data_type": data_type})

    def run_finished(self, trigger: str, data_type: str, status: str, seconds: float) -> None:
        labels = {"trigger": trigger, "data_type": data_type, "status": status}
        self.runs_finished.add(1, labels)
        self.run_duration.record(seconds, {"data_type": data_type, "status": status})

    def pages_applied(self, credential_id: int, results: Iterable[tuple[str, ApplyResult]]) -> None:
        """Count the records of ``(stream, result)`` pages committed now (not earlier ones)."""
        for stream, result in results:
            if result.already_applied:
                continue
            labels = {"credential_id": str(credential_id), "stream": stream}
            for outcome, count in (
                ("applied", result.inserted + result.updated),
                ("unchanged", result.unchanged),
                ("rejected", result.rejected),
            ):
                self.records.add(count, {**labels, "outcome": outcome})

    def page_fetched(self, stream: str, *, refetched: bool) -> None:
        self.pages_fetched.add(1, {"stream": stream})
        self.pages_refetched.add(1 if refetched else 0, {"stream": stream})  # 0: the series exists


_current = SyncMetrics(MetricMeter.noop)


def current() -> SyncMetrics:
    """The process's metrics (no-op until ``install``)."""
    return _current


def install(meter: MetricMeter | None) -> SyncMetrics:
    """Record on ``meter`` from now on (None: back to the no-op meter); returns the metrics."""
    global _current
    _current = SyncMetrics(meter if meter is not None else MetricMeter.noop)
    return _current
