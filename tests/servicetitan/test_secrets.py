"""No secret or token in any log line or exception message, across every kind of outcome.

The autouse ``captured_logs`` fixture already fails any test whose logs leak; this test
drives every path (success, refresh, 401, 403, 429, 5xx, broken bodies, bad and revoked
credentials, timeouts over real HTTP) in one place, checks that the scan has something to
scan, and also scans the exception messages and tracebacks, which logs do not cover.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable

import httpx

from sandbox import Sandbox, SandboxConfig
from servicetitan.client import ServiceTitanClient
from servicetitan.config import Credentials
from servicetitan.errors import ServiceTitanError
from servicetitan.pages import ExportStream, ListResource
from servicetitan.ratelimit import RateLimiterRegistry
from tests.servicetitan.conftest import (
    SMALL_TENANT,
    TENANT,
    CapturedLogs,
    ClientFactory,
    SandboxAdmin,
    client_config,
    credentials_for,
)
from tests.servicetitan.support import SECRETS, MemoryTokenStore, ShiftedClock


def _texts(error: BaseException) -> list[str]:
    return [
        str(error),
        repr(error),
        repr(error.args),
        "".join(traceback.format_exception(error)),
    ]


async def _outcome(call: Awaitable[object], texts: list[str]) -> None:
    try:
        result = await call
    except ServiceTitanError as error:
        texts.extend(_texts(error))
    else:
        texts.append(repr(result))


async def test_no_secret_in_logs_or_errors(
    sandbox: Sandbox,
    make_client: ClientFactory,
    captured_logs: CapturedLogs,
    sandbox_server: str,
    sandbox_admin: SandboxAdmin,
    real_config: SandboxConfig,
) -> None:
    texts: list[str] = []
    tokens_before = len(SECRETS.values)
    clock = ShiftedClock()
    client = make_client(now=clock)
    creds = client.credentials
    texts += [repr(client), repr(creds), repr(client.config)]

    # Success, proactive refresh, 401 recovery.
    page = await client.fetch_export_page(ExportStream.INVOICES)
    texts.append(repr(page))
    clock.advance(700)
    await _outcome(client.count(ListResource.CUSTOMERS), texts)
    sandbox.expire_tokens()
    await _outcome(client.fetch_export_page(ExportStream.CUSTOMERS), texts)
    token = await client._tokens.get(creds)
    texts.append(repr(token))

    # 429, 5xx, broken bodies, bad request.
    sandbox.force_429(count=1, retry_after=2)
    await _outcome(client.fetch_export_page(ExportStream.CUSTOMERS), texts)
    for faults in (
        {"error_rate": 1.0, "error_statuses": [503]},
        {"truncate_rate": 1.0, "truncate_mode": "json"},
        {"truncate_rate": 1.0, "truncate_mode": "close"},
    ):
        sandbox.set_faults(**faults)
        await _outcome(client.fetch_export_page(ExportStream.CUSTOMER_CONTACTS), texts)
        sandbox.reset_faults()
    await _outcome(client.fetch_export_page(ExportStream.CUSTOMERS, "garbage"), texts)

    # Wrong secret, wrong tenant (403), wrong app key, revoked credentials.
    SECRETS.add("cs1.wrong-secret-value", "ak1.wrong-app-key-value")
    wrong = credentials_for(sandbox, secret="cs1.wrong-secret-value")
    await _outcome(make_client(wrong).fetch_export_page(ExportStream.INVOICES), texts)
    spec = sandbox.config.tenant(TENANT)
    other = Credentials(999, SMALL_TENANT, "integration", spec.client_id, spec.client_secret)
    await _outcome(make_client(other).fetch_export_page(ExportStream.INVOICES), texts)
    keyless = make_client(app_key="ak1.wrong-app-key-value")
    texts.append(repr(await keyless.validate_credentials()))
    sandbox.revoke(creds.client_id)
    await _outcome(client.fetch_export_page(ExportStream.INVOICES), texts)
    texts.append(repr(await client.validate_credentials()))

    # Real sockets: httpcore's DEBUG trace of request headers, a timeout.
    async with httpx.AsyncClient() as real_http:
        real = ServiceTitanClient(
            credentials_for(real_config, credential_id=600),
            client_config(sandbox_server, read_timeout_seconds=0.3),
            MemoryTokenStore(),
            http=real_http,
            rate_limiters=RateLimiterRegistry(),
        )
        await real.fetch_export_page(ExportStream.CUSTOMERS)
        real_token = await real._tokens.get(real.credentials)
        SECRETS.add(real_token.value)  # this pool does not record tokens by itself
        await sandbox_admin.post("faults", {"timeout_rate": 1.0, "timeout_seconds": 2.0})
        await _outcome(real.fetch_export_page(ExportStream.CUSTOMERS), texts)

    # The scan has material: tokens were recorded, logs were written at every level.
    assert len(SECRETS.values) >= tokens_before + 3
    lines = captured_logs.lines()
    assert any(line.startswith("httpx:") for line in lines)
    assert any(line.startswith("httpcore.http11:") for line in lines)
    events = {event["event"] for event in captured_logs.events()}
    assert {
        "servicetitan.token.issued",
        "servicetitan.token.failed",
        "servicetitan.token.refused",
        "servicetitan.request",
        "servicetitan.request.failed",
        "servicetitan.response.invalid",
    } <= events
    assert len(texts) > 30

    leaks = {secret for text in [*texts, *lines] for secret in SECRETS.leaks(text)}
    assert not leaks, f"{len(leaks)} secret(s) leaked"


def test_scan_would_catch_a_token_in_an_error() -> None:
    """Control: the same check on a message that does quote a token fails."""
    SECRETS.add("eyJfake.token.value-for-control")
    error = ServiceTitanError("refused eyJfake.token.value-for-control")
    assert SECRETS.leaks(" ".join(_texts(error))) == ["eyJfake.token.value-for-control"]
