"""What a sandbox serves: its tenants, their credentials and sizes, and the server's knobs.

Everything the data depends on is here (``seed``, tenant sizes, the data time window), so two
sandboxes built from equal configs serve byte-identical data. Runtime state (mutations, faults,
counters, revocations) lives in :mod:`sandbox.state`, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_APP_KEY = "ak1.sandbox"


def default_client_id(tenant_id: int) -> str:
    """The client id a tenant gets when none is given (shaped like ServiceTitan's ``cid.``)."""
    return f"cid.sandbox-{tenant_id}"


def default_client_secret(tenant_id: int) -> str:
    """The client secret a tenant gets when none is given (shaped like ServiceTitan's ``cs1.``).

    Derivable instead of printed, so the server never has to log a secret for the demo to
    find it.
    """
    return f"cs1.sandbox-{tenant_id}"


@dataclass(frozen=True)
class TenantSpec:
    """One simulated ServiceTitan tenant.

    Contacts derive from customers (0–3 per customer, some customers with none), so they have
    no count of their own.
    """

    tenant_id: int
    client_id: str
    client_secret: str = field(repr=False)
    customers: int
    invoices: int

    def __post_init__(self) -> None:
        if self.tenant_id <= 0:
            raise ValueError(f"tenant id must be positive, got {self.tenant_id}")
        if self.customers < 1:
            raise ValueError("a tenant needs at least one customer (invoices reference them)")
        if self.invoices < 0:
            raise ValueError("invoice count cannot be negative")
        if not self.client_id or not self.client_secret:
            raise ValueError("client id and secret must be non-empty")

    @classmethod
    def make(cls, tenant_id: int, customers: int, invoices: int) -> TenantSpec:
        """A tenant with the default, derivable credentials."""
        return cls(
            tenant_id=tenant_id,
            client_id=default_client_id(tenant_id),
            client_secret=default_client_secret(tenant_id),
            customers=customers,
            invoices=invoices,
        )


@dataclass
class SandboxConfig:
    """The whole sandbox: tenants, app keys and server knobs.

    ``data_start``/``data_end`` bound the base data's ``modifiedOn`` values; mutations are
    stamped after ``data_end``. They are fixed dates, not "now", so that data is reproducible.
    """

    tenants: list[TenantSpec]
    app_keys: set[str] = field(default_factory=lambda: {DEFAULT_APP_KEY})
    seed: int = 42
    token_ttl_seconds: int = 900
    export_page_size: int = 1000
    rate_limit_per_second: float = 60.0
    rate_limit_burst: float | None = None
    """Bucket capacity; ``None`` means one second's worth of requests (= the rate)."""
    list_default_page_size: int = 50
    list_max_page_size: int = 5000
    recent_changes_window_seconds: float = 300.0
    """``includeRecentChanges=true`` re-serves tail records modified within this window."""
    data_start: datetime = field(default_factory=lambda: datetime(2019, 1, 1, tzinfo=UTC))
    data_end: datetime = field(default_factory=lambda: datetime(2025, 6, 30, tzinfo=UTC))
    page_cache_bytes: int = 256 * 1024 * 1024
    """Budget for cached serialized export pages (0 disables the cache)."""
    prefetch: bool = False
    """After serving an export page with ``hasMore``, build the next one in the background
    (into the page cache) while the client digests this one. Worth it over real HTTP (the
    ``serve`` command turns it on); in-process it would only delay each response."""

    def __post_init__(self) -> None:
        ids = [t.tenant_id for t in self.tenants]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate tenant ids in {ids}")
        client_ids = [t.client_id for t in self.tenants]
        if len(client_ids) != len(set(client_ids)):
            raise ValueError("two tenants share a client id")
        if not self.app_keys:
            raise ValueError("at least one app key is required")
        if self.export_page_size < 1:
            raise ValueError("export_page_size must be at least 1")
        if self.token_ttl_seconds < 1:
            raise ValueError("token_ttl_seconds must be at least 1")
        if self.data_end <= self.data_start:
            raise ValueError("data_end must be after data_start")

    def tenant(self, tenant_id: int) -> TenantSpec:
        for spec in self.tenants:
            if spec.tenant_id == tenant_id:
                return spec
        raise KeyError(tenant_id)


def parse_tenants(spec: str) -> list[TenantSpec]:
    """Parse ``1001:50000:100000,1002:500:1000`` (tenant:customers:invoices[:client_id:secret]).

    Credentials default to :func:`default_client_id` / :func:`default_client_secret`.
    """
    tenants: list[TenantSpec] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (3, 5):
            raise ValueError(
                f"tenant spec {item!r}: expected tenant:customers:invoices[:client_id:secret]"
            )
        try:
            tenant_id, customers, invoices = (int(p) for p in parts[:3])
        except ValueError:
            raise ValueError(
                f"tenant spec {item!r}: tenant, customers, invoices must be integers"
            ) from None
        if len(parts) == 5:
            tenants.append(TenantSpec(tenant_id, parts[3], parts[4], customers, invoices))
        else:
            tenants.append(TenantSpec.make(tenant_id, customers, invoices))
    if not tenants:
        raise ValueError("no tenants given")
    return tenants


def demo_config(seed: int = 42) -> SandboxConfig:
    """A small two-tenant sandbox: big enough to page (several export pages), quick to serve."""
    return SandboxConfig(
        tenants=[TenantSpec.make(1001, 400, 1200), TenantSpec.make(1002, 60, 150)],
        seed=seed,
        export_page_size=250,
    )
