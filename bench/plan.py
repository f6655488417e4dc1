"""What a run measures: tenant sizes, page size, latency, for the full run and the quick one.

The full run follows issues 8 and 22 (a large tenant of 100k invoices + 50k customers and
their contacts; memory at about 100k and 1M records; 1, 4 and 16 credentials at once; 300 ms
of API latency on a tenant of the large one's size; 500 small tenants syncing incrementally at
once). The quick run exercises every scenario on small tenants with small pages, so CI can
run it in well under two minutes and a broken scenario shows up as a failure, not a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tenant:
    """A sandbox tenant: ``tenant_id:customers:invoices`` (contacts follow the customers)."""

    tenant_id: int
    customers: int
    invoices: int

    @property
    def spec(self) -> str:
        return f"{self.tenant_id}:{self.customers}:{self.invoices}"


@dataclass(frozen=True)
class Plan:
    name: str
    page_size: int
    large: Tenant
    """The end-to-end tenant; the limit and the dlt peer read the same feeds."""
    memory: tuple[Tenant, Tenant]
    """About 100k and 1M records (quick: 10x apart as well)."""
    scaling_tenant: tuple[int, int]
    """(customers, invoices) of each tenant in the 1/4/16-credential rounds."""
    concurrency: tuple[int, ...]
    latency_tenant: Tenant
    latency_seconds: float
    resume_tenant: tuple[int, int]
    """(customers, invoices) of the two resume tenants (one clean sync, one killed)."""
    resume_kill_fraction: float
    """SIGKILL the worker when this fraction of the clean sync's pages are applied."""
    incremental_fraction: float
    fleet_size: int
    """Credentials (one small tenant each) of the fleet scenario, synced at once."""
    fleet_tenant: tuple[int, int]
    """(customers, invoices) of each fleet tenant."""
    fleet_changes: int
    """Customers and invoices modified, and contact changes made, per fleet tenant before the
    incremental syncs."""
    verify_rows_up_to: int
    """Compare rows field by field with the sandbox's ground truth up to this many records;
    above it (the 1M memory run) compare counts only."""
    sandbox_cache_mb: int
    sync_timeout_seconds: float
    share_worker: bool = False
    """One database and worker for the end-to-end, scaling and resume scenarios (the quick
    run: each worker start-up costs seconds); the full run gives each its own."""
    two_worker_run: bool = True
    """Also sync the large tenant with two worker processes on one queue."""
    ours_twice: bool = True
    """Sync the large tenant a second time at the end, beside the limit's second run; the
    throughput ratio is then the mean of both over the mean of the limit's two."""

    def scaling_tenants(self) -> dict[int, list[Tenant]]:
        customers, invoices = self.scaling_tenant
        rounds: dict[int, list[Tenant]] = {}
        next_id = 3201
        for count in self.concurrency:
            rounds[count] = [Tenant(next_id + i, customers, invoices) for i in range(count)]
            next_id += count
        return rounds

    def scaling_pair_tenants(self) -> list[Tenant]:
        """As many fresh tenants as the largest scaling round, for two worker processes."""
        customers, invoices = self.scaling_tenant
        return [Tenant(3501 + i, customers, invoices) for i in range(max(self.concurrency))]

    def resume_tenants(self) -> tuple[Tenant, Tenant]:
        customers, invoices = self.resume_tenant
        return Tenant(3401, customers, invoices), Tenant(3402, customers, invoices)

    def fleet_tenants(self) -> list[Tenant]:
        customers, invoices = self.fleet_tenant
        return [Tenant(5001 + i, customers, invoices) for i in range(self.fleet_size)]

    def tenants(self, scenarios: Iterable[str] | None = None) -> list[Tenant]:
        """The sandbox tenants the given scenarios (default: all) read."""
        wanted = set(scenarios) if scenarios is not None else None
        every: list[Tenant] = []

        def want(*names: str) -> bool:
            return wanted is None or bool(wanted.intersection(names))

        if want("throughput", "incremental"):
            every.append(self.large)
        if want("memory"):
            every.extend(self.memory)
        if want("scaling"):
            for group in self.scaling_tenants().values():
                every.extend(group)
            every.extend(self.scaling_pair_tenants())
            every.append(self.latency_tenant)
        if want("resume"):
            every.extend(self.resume_tenants())
        if want("fleet"):
            every.extend(self.fleet_tenants())
        return every


FULL = Plan(
    name="full",
    page_size=1000,
    large=Tenant(3001, customers=50_000, invoices=100_000),
    # ~1.55 contacts per customer: 16k customers + 60k invoices + ~25k contacts ~= 100k records.
    memory=(Tenant(3101, 16_000, 60_000), Tenant(3102, 160_000, 600_000)),
    scaling_tenant=(2_000, 6_000),
    concurrency=(1, 4, 16),
    # The issue asks for the large tenant's size at 300 ms (its own id: latency is per tenant).
    latency_tenant=Tenant(3301, customers=50_000, invoices=100_000),
    latency_seconds=0.3,
    resume_tenant=(8_000, 20_000),
    resume_kill_fraction=0.5,
    incremental_fraction=0.01,
    fleet_size=500,
    fleet_tenant=(20, 30),
    fleet_changes=1,
    verify_rows_up_to=300_000,
    sandbox_cache_mb=4096,
    sync_timeout_seconds=1800,
)

QUICK = Plan(
    name="quick",
    page_size=200,
    large=Tenant(3001, customers=800, invoices=2_000),
    memory=(Tenant(3101, 100, 300), Tenant(3102, 1_000, 3_000)),
    scaling_tenant=(40, 100),
    concurrency=(1, 4, 16),
    latency_tenant=Tenant(3301, customers=100, invoices=400),
    latency_seconds=0.1,
    resume_tenant=(300, 900),
    resume_kill_fraction=0.5,
    incremental_fraction=0.01,
    fleet_size=20,
    fleet_tenant=(20, 30),
    fleet_changes=1,
    verify_rows_up_to=300_000,
    sandbox_cache_mb=256,
    sync_timeout_seconds=120,
    share_worker=True,
    two_worker_run=False,
)

PLANS = {"full": FULL, "quick": QUICK}
