"""Unit tests of the client's pure pieces: no network, no sandbox."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import orjson
import pytest
import structlog

import servicetitan.pages as pages_module
from core.settings import load_settings
from servicetitan.config import ClientConfig, Credentials
from servicetitan.errors import (
    BadRequest,
    ConnectionFailed,
    CredentialsRejected,
    InvalidResponse,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServiceUnavailable,
)
from servicetitan.pages import ExportPage, ExportStream, ListPage, ListResource
from servicetitan.problem import ProblemDetails
from servicetitan.ratelimit import RateLimiter, RateLimiterRegistry
from servicetitan.responses import error_for_status, parse_retry_after, transport_error


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# --- rate limiter -------------------------------------------------------------------------


async def test_limiter_allows_burst_then_paces_at_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, burst=10, clock=clock, sleep=clock.sleep)
    waits = [limiter.reserve() for _ in range(20)]
    assert waits[:10] == [0.0] * 10
    # Request 11 waits one interval (1/50 s), request 20 ten intervals.
    assert waits[10] == pytest.approx(0.02)
    assert waits[19] == pytest.approx(0.20)


async def test_limiter_never_exceeds_rate_plus_burst_in_any_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, burst=10, clock=clock, sleep=clock.sleep)
    start = clock.now
    times = []
    for _ in range(200):
        await limiter.acquire()
        times.append(clock.now)
    for i, t in enumerate(times):
        in_window = sum(1 for u in times[i:] if u < t + 1.0)
        assert in_window <= 60
    # 200 requests at 50/s with a burst of 10 take (200 - 10) / 50 s.
    assert times[-1] - start == pytest.approx(190 / 50)


async def test_limiter_refills_after_idle() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, burst=2, clock=clock, sleep=clock.sleep)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]
    clock.now += 5
    assert [limiter.reserve() for _ in range(2)] == [0.0, 0.0]


async def test_limiter_paces_concurrent_callers_with_real_time() -> None:
    limiter = RateLimiter(200, burst=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(limiter.acquire() for _ in range(21)))
    assert loop.time() - start >= 20 / 200 * 0.9


async def test_limiter_does_not_release_a_backlog_after_a_stall() -> None:
    """An event-loop stall must not turn queued waiters into one big burst."""
    clock = FakeClock()
    calls = 0

    async def stalling_sleep(seconds: float) -> None:
        nonlocal calls
        calls += 1
        clock.now += seconds + (2.0 if calls == 3 else 0.0)  # the third wake-up is 2 s late
        await asyncio.sleep(0)

    limiter = RateLimiter(10, burst=3, clock=clock, sleep=stalling_sleep)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        sent.append(clock.now)

    await asyncio.gather(*(one() for _ in range(30)))
    assert len(sent) == 30
    assert sent == sorted(sent)
    for i, t in enumerate(sent):
        at_once = sum(1 for u in sent[i:] if u < t + 0.05)
        assert at_once <= 3 + 1  # burst (+ the late one), never the 20-request backlog


def test_registry_shares_per_app_key_and_tenant() -> None:
    registry = RateLimiterRegistry()
    a = registry.get("ak1.secret", 1, 50, 10)
    assert registry.get("ak1.secret", 1, 50, 10) is a
    assert registry.get("ak1.secret", 2, 50, 10) is not a
    assert registry.get("ak1.other", 1, 50, 10) is not a
    assert "ak1.secret" not in repr(registry._limiters)


# --- problem details and Retry-After --------------------------------------------------------


def test_problem_details_parse_and_summary() -> None:
    body = orjson.dumps(
        {
            "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "traceId": "00-abc-01",
            "errors": {"Ids": ["Simple IDs lookup should not exceed 50"], "Page": "bad"},
            "data": {"x": 1},
        }
    )
    problem = ProblemDetails.from_body(body)
    assert problem is not None
    assert problem.status == 400
    assert problem.errors == {"Ids": ("Simple IDs lookup should not exceed 50",), "Page": ("bad",)}
    assert problem.summary() == (
        "One or more validation errors occurred. Ids: Simple IDs lookup should not exceed 50. "
        "Page: bad (traceId 00-abc-01)"
    )
    assert ProblemDetails.from_body(b"<html>oops</html>") is None
    assert ProblemDetails.from_body(b"[1]") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), (None, None), ("", None)],
)
def test_retry_after_delta_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(30)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now.timestamp()) == 0.0


def test_retry_after_from_problem_title() -> None:
    problem = ProblemDetails(title="Rate limit is exceeded. Try again in 12 seconds.")
    assert parse_retry_after(None, problem=problem) == 12.0


def _response(status: int, body: object = None, headers: dict[str, str] | None = None):
    content = orjson.dumps(body) if body is not None else b""
    return httpx.Response(status, content=content, headers=headers)


def _map(response: httpx.Response):
    return error_for_status(
        response, endpoint="GET /x", tenant_id=7, default_retry_after=5.0, max_retry_after=60.0
    )


def test_status_mapping() -> None:
    limited = _map(_response(429, headers={"Retry-After": "3"}))
    assert isinstance(limited, RateLimited)
    assert limited.retryable
    assert limited.retry_after == 3.0
    assert "retry after 3 s" in str(limited)
    assert "tenant 7" in str(limited)

    default = _map(_response(429))
    assert isinstance(default, RateLimited)
    assert default.retry_after == 5.0
    capped = _map(_response(429, headers={"Retry-After": "86400"}))
    assert isinstance(capped, RateLimited)
    assert capped.retry_after == 60.0

    for status in (500, 502, 503, 504, 408):
        error = _map(_response(status))
        assert type(error) is ServiceUnavailable
        assert error.retryable
        assert error.status == status

    problem = {"title": "Bad page", "status": 400, "traceId": "t1", "errors": {"Page": ["x"]}}
    bad = _map(_response(400, problem))
    assert isinstance(bad, BadRequest)
    assert not bad.retryable
    assert bad.problem is not None
    assert bad.problem.errors == {"Page": ("x",)}
    assert "Bad page" in str(bad)

    missing = _map(_response(404, {"title": "Customer not found"}))
    assert isinstance(missing, NotFound)
    assert not missing.retryable

    for status in (401, 403):
        refused = _map(_response(status))
        assert isinstance(refused, CredentialsRejected)
        assert not refused.retryable


def test_transport_error_mapping() -> None:
    request = httpx.Request("GET", "https://api.example/x")
    timeout = transport_error(
        httpx.ReadTimeout("", request=request), endpoint="GET /x", tenant_id=1
    )
    assert isinstance(timeout, RequestTimeout)
    assert timeout.retryable
    refused = transport_error(
        httpx.ConnectError("Connection refused", request=request), endpoint="GET /x", tenant_id=1
    )
    assert isinstance(refused, ConnectionFailed)
    assert "Connection refused" in str(refused)
    cut = transport_error(
        httpx.RemoteProtocolError("peer closed", request=request), endpoint="GET /x", tenant_id=1
    )
    assert isinstance(cut, ServiceUnavailable)
    assert cut.retryable


# --- pages ----------------------------------------------------------------------------------


def test_export_page_keeps_exact_bytes() -> None:
    raw = b'{"hasMore": true,  "continueFrom": "abc==", "data": [{"id": 1, "total": "1.10"}]}'
    page = ExportPage.from_raw(ExportStream.INVOICES, raw, requested_from="2020-01-01")
    assert page.raw is raw
    assert page.has_more is True
    assert page.continue_from == "abc=="
    assert page.record_count == 1
    assert page.records() == [{"id": 1, "total": "1.10"}]
    assert "abc==" in repr(page)
    assert "total" not in repr(page)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"hasMore": true, "continueFrom": "a", "data": [{"id": 1}, {"id"',
        b"[]",
        b'{"hasMore": true, "continueFrom": "a"}',
        b'{"continueFrom": "a", "data": []}',
        b"",
    ],
)
def test_export_page_rejects_broken_envelopes(raw: bytes) -> None:
    with pytest.raises(InvalidResponse) as caught:
        ExportPage.from_raw(ExportStream.CUSTOMERS, raw)
    assert caught.value.retryable


@pytest.mark.parametrize(
    "raw",
    [
        b'{"hasMore": true, "continueFrom": "abc==", "data": [{"id": 1}, "x", null, [2], 3.5]}',
        b'{"continueFrom": 12, "hasMore": false, "data": [], "extra": {"nested": [1]}}',
        b'{"data": [{"id": 1}], "hasMore": false, "continueFrom": null}',
        b'{"data": [{"id": 1}], "hasMore": false, "continueFrom": ""}',
        b'{"data": [{"id": 1}], "hasMore": false}',
    ],
)
def test_export_page_envelope_reads_as_the_full_decode_reads_it(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The envelope is read without decoding the records; what it yields must not change."""
    quick = ExportPage.from_raw(ExportStream.INVOICES, raw)
    monkeypatch.setattr(pages_module, "_plain_envelope", lambda raw: None)
    full = ExportPage.from_raw(ExportStream.INVOICES, raw)
    assert (quick.has_more, quick.continue_from, quick.record_count, quick.records()) == (
        full.has_more,
        full.continue_from,
        full.record_count,
        full.records(),
    )
    assert quick._records == [full.records()]  # decoded on first use, then kept


def test_export_page_with_a_non_boolean_has_more_is_broken() -> None:
    with pytest.raises(InvalidResponse, match="hasMore"):
        ExportPage.from_raw(ExportStream.INVOICES, b'{"data": [], "hasMore": "yes"}')


def test_list_page() -> None:
    raw = (
        b'{"page": 1, "pageSize": 2, "hasMore": true, "totalCount": 9, "data": [{"id":1},{"id":2}]}'
    )
    page = ListPage.from_raw(ListResource.CUSTOMERS, raw, page=1, page_size=2)
    assert (page.page, page.page_size, page.has_more, page.total_count) == (1, 2, True, 9)
    assert page.record_count == 2
    no_total = ListPage.from_raw(
        ListResource.INVOICES,
        b'{"page":3,"pageSize":2,"hasMore":false,"data":[]}',
        page=3,
        page_size=2,
    )
    assert no_total.total_count is None
    assert ListResource.INVOICES.all_records_params == {"activeState": "All"}
    assert ListResource.CUSTOMERS.all_records_params == {"active": "Any"}


# --- config ---------------------------------------------------------------------------------


def test_credentials_and_config_never_show_secrets() -> None:
    creds = Credentials(1, 42, "integration", "cid.abcdef", "cs1.topsecret")
    config = ClientConfig(app_key="ak1.appkeyvalue")
    for text in (repr(creds), str(creds), repr(config), f"{creds}"):
        assert "cid.abcdef" not in text
        assert "cs1.topsecret" not in text
        assert "ak1.appkeyvalue" not in text
    assert "tenant_id=42" in repr(creds)


def test_config_from_settings() -> None:
    settings = load_settings(
        servicetitan_app_key="ak1.fromsettings",
        servicetitan_auth_url_integration="http://127.0.0.1:9999/",
        servicetitan_api_url_integration="http://127.0.0.1:9998",
        servicetitan_rate_limit_per_second=20,
        servicetitan_token_refresh_threshold_seconds=120,
        servicetitan_read_timeout_seconds=7,
    )
    config = ClientConfig.from_settings(settings)
    assert config.app_key == "ak1.fromsettings"
    assert config.urls("integration").token_url == "http://127.0.0.1:9999/connect/token"
    assert config.urls("integration").api_url == "http://127.0.0.1:9998"
    assert config.urls("production").api_url == "https://api.servicetitan.io"
    assert config.rate_limit_per_second == 20
    assert config.effective_burst == 4
    assert config.token_refresh_threshold_seconds == 120
    assert config.read_timeout_seconds == 7
    with pytest.raises(ValueError, match="SERVICETITAN_APP_KEY"):
        ClientConfig.from_settings(load_settings(servicetitan_app_key=None))


# --- the secret scanner itself ---------------------------------------------------------------


def test_log_scanner_sees_structlog_and_stdlib_lines(captured_logs) -> None:
    """The autouse scan is only worth something if it would catch a leak."""
    from tests.servicetitan.support import SECRETS

    SECRETS.add("cs1.scanner-probe-value")
    structlog.stdlib.get_logger("probe").warning("oops", detail="cs1.scanner-probe-value")
    logging.getLogger("httpx").debug("header %s", "cs1.scanner-probe-value")
    leaks = [line for line in captured_logs.lines() if SECRETS.leaks(line)]
    assert len(leaks) == 2
    captured_logs.clear()


def test_page_with_lone_surrogate_is_not_fatal() -> None:
    """orjson refuses lone surrogate escapes; the page must still decode (record by record)."""
    raw = (
        b'{"hasMore": false, "continueFrom": "c", '
        b'"data": [{"id": 1, "name": "Bad \\ud800 x"}, {"id": 2, "name": "ok"}]}'
    )
    page = ExportPage.from_raw(ExportStream.CUSTOMERS, raw)
    assert page.record_count == 2
    assert page.records()[0]["name"] == "Bad \ud800 x"
    assert page.records()[1] == {"id": 2, "name": "ok"}


def test_httpcore_finds_sniffio_in_the_environment() -> None:
    """httpcore imports sniffio on every lock it creates (several per request). Without it,
    each of those imports fails only after searching sys.path: ~64 µs instead of ~1.6 µs."""
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None, "sniffio is a dependency: keep it"
