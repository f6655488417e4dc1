"""The sandbox as a real HTTP server for a run, and the admin calls the scenarios need.

It is started with ``--warm``: every full-export page of every tenant is built into the page
cache before the first request, so serving a page costs a memory copy, not the ~30 µs per
invoice of generating it. Otherwise the simulator's CPU would compete with the worker and
PostgreSQL for the machine's two cores and the measurement would partly be of the sandbox. The
limit and the dlt peer read from the same warmed server, so the ratios stay fair. Pages after a
mutation (the incremental scenario) are generated on demand, as a real change feed would be.
The sandbox's own rate limit is off; the worker's client-side limiter is set far above what
loopback reaches (see ``worker_environment``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.plan import Plan
from tests.support.processes import SandboxServer


def start_sandbox(
    plan: Plan, workdir: Path, scenarios: Iterable[str] | None = None, *, warm: bool = True
) -> SandboxServer:
    """The sandbox with the tenants of ``scenarios`` (default: all), warmed, rate limit off."""
    extra = ["--page-cache-mb", str(plan.sandbox_cache_mb)]
    if warm:
        extra.append("--warm")
    server = SandboxServer(
        tenants=",".join(t.spec for t in plan.tenants(scenarios)),
        workdir=workdir,
        export_page_size=plan.page_size,
        rate_limit=0.0,
        extra_args=tuple(extra),
    )
    return server.start(ready_timeout=600)


@dataclass(frozen=True)
class Served:
    """What the sandbox served for some tenants since the last counter reset."""

    pages: int
    """Complete 200 responses of export pages."""
    refetched_pages: int
    """Export pages served more than once (extra copies)."""
    records: int

    @classmethod
    def of(cls, snapshot: dict[str, Any], tenants: set[int]) -> Served:
        pages = refetched = 0
        for page in snapshot["pages"]:
            if page["tenant_id"] in tenants and page["endpoint"].startswith("export"):
                pages += page["served"]
                refetched += max(page["served"] - 1, 0)
        records = sum(
            item["count"]
            for item in snapshot["records_served"]
            if item["tenant_id"] in tenants and item["endpoint"].startswith("export")
        )
        return cls(pages, refetched, records)


def reset_counters(sandbox: SandboxServer) -> None:
    sandbox.admin("POST", "counters/reset")


def served(sandbox: SandboxServer, *tenants: int) -> Served:
    return Served.of(sandbox.admin("GET", "counters"), set(tenants))


_HTTP = httpx.Client(timeout=600)
"""One client for the row checks: building one (its SSL context) costs ~30 ms of CPU, more than
a small tenant's whole answer; the fleet scenario checks hundreds of tenants."""


def ground_truth(sandbox: SandboxServer, tenant: int, kind: str) -> list[dict[str, Any]]:
    """The records a correct consumer ends with (``expected=true``), from the server."""
    with _HTTP.stream(
        "GET",
        f"{sandbox.url}/_sandbox/records/{tenant}/{kind}",
        params={"expected": "true"},
    ) as response:
        response.raise_for_status()
        return [orjson.loads(line) for line in response.iter_lines() if line]


def token(sandbox: SandboxServer, tenant: int) -> str:
    from sandbox.config import default_client_id, default_client_secret

    response = httpx.post(
        f"{sandbox.url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": default_client_id(tenant),
            "client_secret": default_client_secret(tenant),
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
