"""Over real HTTP: an independent client (servicepytan), network faults, and the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import servicepytan

from core.embedded import sandbox as embedded
from sandbox import Sandbox, SandboxConfig, demo_config
from sandbox.config import DEFAULT_APP_KEY, parse_tenants
from sandbox.generate import Kind
from sandbox.server import require_loopback, serve_in_thread
from tests.sandbox.serving import start_serve

from .conftest import APP_KEY, EXPORT_PATHS, T1, credentials, small_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def realistic() -> Sandbox:
    """ServiceTitan's default rate limit (60/s per app and tenant) left on."""
    return Sandbox(small_config(rate_limit_per_second=60.0))


def test_servicepytan_pages_exports_and_lists_to_the_end(realistic: Sandbox) -> None:
    with serve_in_thread(realistic) as server:
        conn = servicepytan.auth.servicepytan_connect(
            api_environment="integration",
            app_key=APP_KEY,
            tenant_id=str(T1),
            client_id=f"cid.sandbox-{T1}",
            client_secret=f"cs1.sandbox-{T1}",
        )
        conn["auth_root"] = server.base_url
        conn["api_root"] = server.base_url

        feeds: tuple[tuple[str, str, Kind], ...] = (
            ("accounting", "invoices", "invoices"),
            ("crm", "customers", "customers"),
            ("crm", "customers/contacts", "contacts"),
        )
        for folder, feed, kind in feeds:
            exported = servicepytan.Endpoint(folder, "export", conn).export_all(feed)
            truth = [r["id"] for r in realistic.records(T1, kind)]
            assert [r["id"] for r in exported] == truth, kind
            assert len(set(truth)) == len(truth)

        invoices = servicepytan.Endpoint("accounting", "invoices", conn).get_all(
            {"activeState": "All", "pageSize": 37}
        )
        assert sorted(r["id"] for r in invoices) == sorted(r["id"] for r in realistic.invoices(T1))
        customers = servicepytan.Endpoint("crm", "customers", conn).get_all({"active": "Any"})
        assert len(customers) == len({c["id"] for c in customers}) == 150
        one = servicepytan.Endpoint("crm", "customers", conn).get_one(customers[5]["id"])
        assert one == customers[5]

    counters = realistic.counters
    assert counters.refetched() == {}
    assert counters.rate_limited == 0
    # servicepytan asks for a new token before every request (and sends it without "Bearer").
    api_requests = sum(n for endpoint, n in counters.requests.items() if endpoint != "token")
    assert counters.tokens_issued == counters.requests["token"] == api_requests


def test_network_faults_look_like_network_faults(sandbox: Sandbox) -> None:
    with serve_in_thread(sandbox) as server, httpx.Client(base_url=server.base_url) as client:
        token = client.post("/connect/token", data=credentials(T1)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "ST-App-Key": APP_KEY}
        url = EXPORT_PATHS["invoices"].format(t=T1)

        sandbox.set_faults(truncate_rate=1.0, truncate_mode="close")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url, headers=headers)
        sandbox.set_faults(truncate_rate=0.0, timeout_rate=1.0, timeout_seconds=0.5)
        with pytest.raises(httpx.ReadTimeout):
            client.get(url, headers=headers, timeout=0.1)
        sandbox.reset_faults()
        sandbox.set_faults(rate_limit_per_second=2.0)
        codes = [client.get(url, headers=headers).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and 429 in codes[2:]
        sandbox.reset_faults()
        sandbox.advance_time(5)
        assert client.get(url, headers=headers).status_code == 200


def test_only_loopback_addresses() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        require_loopback(host)
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):  # noqa: S104
        with pytest.raises(ValueError):
            require_loopback(host)


def test_demo_config_is_small_and_pages() -> None:
    config = demo_config()
    assert len(config.tenants) == 2
    sandbox = Sandbox(config)
    assert sandbox.export_page(1001, "invoices", None).has_more


def test_the_embedded_demo_uses_credentials_the_sandbox_accepts() -> None:
    """``./dev run`` starts the sandbox with its defaults and onboards the demo tenant with
    the credential stated in core/embedded/sandbox.py: the two must agree."""
    demo = SandboxConfig(tenants=parse_tenants(embedded.DEMO_TENANTS)).tenant(embedded.DEMO_TENANT)
    assert (demo.client_id, demo.client_secret) == (
        embedded.DEMO_CLIENT_ID,
        embedded.DEMO_CLIENT_SECRET,
    )
    assert embedded.APP_KEY == DEFAULT_APP_KEY


def test_serve_command(tmp_path: Path) -> None:
    process, port = start_serve(
        tmp_path / "port", "--tenants", "3001:30:60,3002:5:5:cid.custom:cs1.custom"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{base}/_sandbox/health").json()["tenants"] == [3001, 3002]
        token = httpx.post(f"{base}/connect/token", data=credentials(3001)).json()["access_token"]
        custom = httpx.post(
            f"{base}/connect/token",
            data={"grant_type": "client_credentials", "client_id": "cid.custom",
                  "client_secret": "cs1.custom"},
        )  # fmt: skip
        assert custom.status_code == 200
        headers = {"Authorization": f"Bearer {token}", "ST-App-Key": APP_KEY}
        url = f"{base}/accounting/v2/tenant/3001/export/invoices"
        page = httpx.get(url, headers=headers).json()
        assert len(page["data"]) == 60 and page["hasMore"] is False
        # Same seed, other process (other hash salt for str): the same data.
        twin = Sandbox(SandboxConfig(tenants=parse_tenants("3001:30:60"), seed=42))
        assert page["data"] == list(twin.invoices(3001))
        mutate = subprocess.run(
            [sys.executable, "-m", "sandbox", "mutate", "--url", base, "--tenant", "3001",
             "--modify", "2", "--add", "1", "--kinds", "invoices"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert '"added"' in mutate.stdout
        later = httpx.get(url, params={"from": page["continueFrom"]}, headers=headers).json()
        assert len(later["data"]) == 3
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out and "cid.sandbox-3001" in out
    assert "cs1.sandbox-3001" not in out + err and "cs1.custom" not in out + err
    assert token not in out + err
    assert not (tmp_path / "port").exists()


def test_serve_command_refuses_public_addresses(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--port", "0"],  # noqa: S104
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 2 and "loopback" in result.stderr


def test_bench_reports_throughput() -> None:
    from sandbox.bench import run_bench

    result = run_bench(
        invoices=3000, customers=300, page_size=500, rounds=2, rate_limit=0, page_cache_mb=64
    )
    rounds = result["rounds"]
    assert [r["records"] for r in rounds] == [3000, 3000]
    assert all(r["pages"] == 6 and r["records_per_second"] > 0 for r in rounds)
