"""API faults: long runs of 429s, 10% server errors and timeouts, truncated bodies, a token
that expires every minute, and credentials revoked mid-sync.

The worker runs in this process but reaches the sandbox over a real loopback socket
(``serve_in_thread``), so read timeouts and dropped connections are real; the sandbox object
is at hand for its fault knobs and counters. Each sync must land exactly the expected rows;
where a fault cannot produce a complete page (429, 401, truncation) no page may be served
twice at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contracts.sync import ErrorType, SyncResult
from sandbox import endpoints
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.server import serve_in_thread
from sandbox.state import Sandbox
from tests.reliability.support import (
    LogCapture,
    ReliabilityReport,
    Scenario,
    SecretLedger,
    Stopwatch,
    duplicate_rows,
    extra_fetches,
    feed_records,
    local_refetches,
    record_issued_tokens,
    tally_tenant,
)
from tests.sync.harness import HarnessFactory, SyncHarness, sandbox_client_config
from workflows import sync as sync_workflow

pytestmark = pytest.mark.reliability

TENANT = 4201
CUSTOMERS, INVOICES, PAGE = 300, 700, 50
READ_TIMEOUT = 1.0


@pytest.fixture
def sandbox(secret_ledger: SecretLedger) -> Sandbox:
    sandbox = Sandbox(
        SandboxConfig(
            tenants=[TenantSpec.make(TENANT, customers=CUSTOMERS, invoices=INVOICES)],
            export_page_size=PAGE,
        )
    )
    record_issued_tokens(sandbox, secret_ledger)
    return sandbox


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[str]:
    with serve_in_thread(sandbox) as running:
        yield running.base_url


@pytest.fixture
async def harness(
    make_harness: HarnessFactory, server: str, captured_logs: LogCapture
) -> AsyncIterator[SyncHarness]:
    """The worker reaches the sandbox over the socket, with a short read timeout."""
    config = sandbox_client_config(server, read_timeout_seconds=READ_TIMEOUT)
    async with make_harness(base_url=server, client_config=config) as running:
        yield running


def _check_exact(
    harness: SyncHarness, result: SyncResult, scenario: Scenario, report: ReliabilityReport
) -> Scenario:
    """Assert the sync completed with exactly the sandbox's rows; fill in and report the row."""
    assert result.status == "completed"
    tally = tally_tenant(harness.database_url, harness.sandbox, TENANT)
    scenario.records = feed_records(harness.sandbox, TENANT)
    scenario.expected_rows, scenario.found_rows = tally.expected, tally.found
    scenario.duplicates = duplicate_rows(harness.database_url)
    scenario.refetched = extra_fetches(local_refetches(harness.sandbox))
    assert not tally.mismatched, tally.mismatched
    assert tally.found == tally.expected == scenario.records
    assert scenario.duplicates == 0
    assert harness.rows("SELECT status FROM servicetitan_sync_logs") == [("completed",)]
    return report.add(scenario)


async def _wait_for_pages(sandbox: Sandbox, pages: int, deadline: float = 60) -> None:
    started = time.monotonic()
    while sandbox.counters.pages_served.total() < pages:
        if time.monotonic() - started > deadline:
            raise TimeoutError(f"fewer than {pages} pages served after {deadline}s")
        await asyncio.sleep(0.01)


async def _wait_for_invoice_pages(harness: SyncHarness, deadline: float = 60) -> None:
    """Until an invoices page is applied (the streams before it are complete by then)."""
    started = time.monotonic()
    query = "SELECT coalesce(max(pages_applied), 0) FROM servicetitan_sync_state "
    while not harness.scalar(query + "WHERE stream = 'invoices'"):
        if time.monotonic() - started > deadline:
            raise TimeoutError(f"no invoices page applied after {deadline}s")
        await asyncio.sleep(0.01)


async def test_long_runs_of_429s_are_waited_out_even_beyond_the_retry_budget(
    sandbox: Sandbox,
    server: str,
    make_harness: HarnessFactory,
    captured_logs: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
    report: ReliabilityReport,
) -> None:
    """Runs of 429s: 5 in a row on the token endpoint at the start, then every API request
    refused for 5 s in the middle of the sync. Each run is longer than an activity's whole
    retry policy — 60 attempts in production, about a minute at Retry-After: 1; shrunk to 3
    attempts here so a storm lasts seconds. The sync waits them out at the pace of
    Retry-After (no exponential backoff afterwards) and completes exactly."""
    watch = Stopwatch()
    monkeypatch.setattr(
        sync_workflow,
        "_API_RETRY",
        dataclasses.replace(sync_workflow._API_RETRY, maximum_attempts=3),
    )
    async with make_harness(base_url=server, unsandboxed=True) as harness:
        credential = await harness.add_tenant(TENANT)
        sandbox.force_429(count=5, retry_after=1, endpoint=endpoints.TOKEN)
        handle = await harness.start(credential)
        await _wait_for_pages(sandbox, 16)
        sandbox.force_429(seconds=5, retry_after=1)
        result = await handle.result()
        throttled = sandbox.counters.rate_limited
        waits = sum(s.rate_limit_waits for s in result.streams)
        scenario = _check_exact(
            harness,
            result,
            Scenario(
                "api: 429 runs beyond the retry budget",
                injected=f"{throttled}×429 (5 on token, 5 s on all)",
                seconds=watch.seconds,
                note=f"retry budget shrunk to 3 attempts (60 in production); "
                f"{waits} rate-limit waits recorded",
            ),
            report,
        )
    assert throttled >= 5 + 4, throttled
    assert scenario.refetched == 0  # a 429 is no page: none was served twice
    # Retry-After paces the retries: the storms (about 10 s) plus the sync itself.
    assert watch.seconds < 10 + 25, watch.seconds


async def test_ten_percent_server_errors_and_timeouts(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    watch = Stopwatch()
    sandbox = harness.sandbox
    credential = await harness.add_tenant(TENANT)
    sandbox.set_faults(
        error_rate=0.06,
        timeout_rate=0.04,
        timeout_seconds=READ_TIMEOUT + 2,
        endpoints=list(endpoints.ALL),  # the token endpoint too
    )
    result = await harness.sync(credential)
    faults = sandbox.counters.faults
    errors = sum(n for kind, n in faults.items() if kind.startswith("error_"))
    scenario = _check_exact(
        harness,
        result,
        Scenario(
            "api: 6% 5xx + 4% timeouts",
            injected=f"{errors}×5xx, {faults['timeout']}×timeout",
            seconds=watch.seconds,
        ),
        report,
    )
    assert errors >= 2 and faults["timeout"] >= 1, faults
    # A timed-out request is still answered by the sandbox later (counted as served): at most
    # one extra fetch per timeout; a 5xx never counts as served.
    assert scenario.refetched <= faults["timeout"]


async def test_truncated_bodies_are_fetched_again_never_applied(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    """15% of responses stop halfway: first as a complete HTTP 200 whose JSON is cut, then
    (from the invoices on) as a connection dropped mid-body."""
    watch = Stopwatch()
    sandbox = harness.sandbox
    credential = await harness.add_tenant(TENANT)
    sandbox.set_faults(truncate_rate=0.15, truncate_mode="json")
    handle = await harness.start(credential)
    await _wait_for_pages(sandbox, 14)
    sandbox.set_faults(truncate_rate=0.15, truncate_mode="close")
    result = await handle.result()
    faults = sandbox.counters.faults
    scenario = _check_exact(
        harness,
        result,
        Scenario(
            "api: 15% truncated bodies",
            injected=f"{faults['truncate_json']}× cut JSON, {faults['truncate_close']}× dropped",
            seconds=watch.seconds,
        ),
        report,
    )
    assert faults["truncate_json"] >= 1 and faults["truncate_close"] >= 1, faults
    assert scenario.refetched == 0  # a truncated page is not a served page


async def test_a_token_that_expires_every_minute(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    """Tokens live 60 s and the sandbox's clock jumps 61 s again and again: every token dies
    under the worker while it syncs, which must cost a 401 and one new token, no page.

    The clock only jumps once the newest token has existed for a second of real time, as a
    real token always gets used before it expires; jumping right after a new token is issued
    would make the retry's fresh token fail too, which is the "persistent 401" of rejected
    credentials, not an expiry.
    """
    watch = Stopwatch()
    sandbox = harness.sandbox
    credential = await harness.add_tenant(TENANT)
    # Slow enough responses that the sync outlives several token lifetimes (its three streams
    # are fetched at once).
    sandbox.set_faults(token_ttl_seconds=60, latency_seconds=0.4)
    handle = await harness.start(credential)
    minutes = 0
    loop = asyncio.get_running_loop()
    seen_tokens, newest_at = sandbox.counters.tokens_issued, loop.time()
    while not await _done(handle):
        await asyncio.sleep(0.1)
        if sandbox.counters.tokens_issued != seen_tokens:
            seen_tokens, newest_at = sandbox.counters.tokens_issued, loop.time()
        elif loop.time() - newest_at >= 1.0:
            sandbox.advance_time(61)
            minutes += 1
            newest_at = loop.time()
    result = await handle.result()
    counters = sandbox.counters
    scenario = _check_exact(
        harness,
        result,
        Scenario(
            "api: token expires every minute",
            injected=f"{minutes} token lifetimes, {counters.auth_failures['expired_token']}×401",
            seconds=watch.seconds,
            note=f"{counters.tokens_issued} tokens issued for {minutes} expiries",
        ),
        report,
    )
    assert minutes >= 3
    assert counters.auth_failures["expired_token"] >= 1
    assert counters.tokens_issued >= 2
    # One new token per expiry at most (plus the first): the token endpoint is not hammered.
    assert counters.tokens_issued <= minutes + 2, (counters.tokens_issued, minutes)
    assert scenario.refetched == 0  # a 401 is no page


async def _done(handle: Any) -> bool:
    description = await handle.describe()
    return description.status is not None and description.status.name != "RUNNING"


def _feed_ids(sandbox: Sandbox, kind: str, pages: int) -> set[int]:
    """Ids of the first ``pages`` export pages of a feed (the sandbox's own paging)."""
    ids: set[int] = set()
    cursor = None
    for _ in range(pages):
        page = sandbox.export_page(TENANT, kind, cursor)  # type: ignore[arg-type]
        body = orjson.loads(page.body)
        ids.update(record["id"] for record in body["data"])
        cursor = body["continueFrom"]
    return ids


async def test_credentials_revoked_mid_sync_fail_fast_and_leave_whole_pages(
    harness: SyncHarness, report: ReliabilityReport
) -> None:
    """Revoked in the middle of the invoices, with 5% server errors around: the run fails
    within seconds with one readable line, the credential is marked, and the tables hold
    exactly the pages applied before — whole pages, nothing of the page in flight.

    The invoice feed is the slow one (250 ms a page, its errors retried after a second), so
    the revocation, once the first invoices page is applied, finds invoice pages still to
    fetch: a feed fetched to its end ahead of the gate would let the sync finish without
    another request."""
    watch = Stopwatch()
    sandbox = harness.sandbox
    spec = sandbox.config.tenant(TENANT)
    credential = await harness.add_tenant(TENANT)
    sandbox.set_faults(error_rate=0.05, latency_seconds=0.25, endpoints=[endpoints.EXPORT_INVOICES])
    handle = await harness.start(credential)
    # Streams run at once and invoices are applied after customers: wait for the first.
    await _wait_for_invoice_pages(harness)
    sandbox.revoke(spec.client_id)
    sandbox.expire_tokens(spec.client_id)
    revoked_at = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    seconds_to_fail = time.monotonic() - revoked_at

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorType.CREDENTIALS_REJECTED
    message = cause.message
    assert message and "\n" not in message and len(message) < 300, message
    assert "invalid_client" in message or "rejected" in message.lower(), message
    assert seconds_to_fail < 15, seconds_to_fail
    assert harness.rows("SELECT status, error_message FROM servicetitan_sync_logs") == [
        ("failed", message)
    ]
    assert harness.rows("SELECT connection_status FROM servicetitan_credentials") == [("error",)]

    # Whole pages only: each table holds exactly the records of the pages its cursor covers.
    state = dict(harness.rows("SELECT stream, pages_applied FROM servicetitan_sync_state"))
    assert state.get("invoices", 0) >= 1, state
    expected_rows = found_rows = 0
    for stream, kind, sql in (
        ("customers", "customers", "SELECT customer_id::bigint FROM members_stream"),
        ("customer_contacts", "contacts", "SELECT contact_id FROM servicetitan_customer_contacts"),
        ("invoices", "invoices", "SELECT invoice_number::bigint FROM invoices_stream"),
    ):
        expected = _feed_ids(sandbox, kind, state.get(stream, 0))
        stored = {row[0] for row in harness.rows(sql)}
        assert stored == expected, (stream, len(stored), len(expected))
        expected_rows += len(expected)
        found_rows += len(stored)
    report.add(
        Scenario(
            "api: credentials revoked mid-sync",
            records=feed_records(sandbox, TENANT),
            injected="revoked + 5% 5xx",
            expected_rows=expected_rows,
            found_rows=found_rows,
            duplicates=duplicate_rows(harness.database_url),
            refetched=extra_fetches(local_refetches(sandbox)),
            seconds=watch.seconds,
            note=f"failed {seconds_to_fail:.1f}s after the revocation: {message[:70]}",
        )
    )
