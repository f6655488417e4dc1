"""Everything one tenant holds: its generator, a store per kind, and its change clock."""

from __future__ import annotations

from sandbox.config import SandboxConfig, TenantSpec
from sandbox.feed import KindStore
from sandbox.generate import KINDS, Kind, TenantGenerator


class TenantState:
    """One tenant's mutable state.

    ``clock`` is the last ``modifiedOn`` (ticks) handed out; every change is stamped after it,
    in data time rather than wall time, so a given seed and sequence of mutations always gives
    the same feed.
    """

    def __init__(self, config: SandboxConfig, spec: TenantSpec) -> None:
        self.spec = spec
        self.gen = TenantGenerator(config, spec)
        self.stores: dict[Kind, KindStore] = {kind: KindStore(self.gen, kind) for kind in KINDS}
        self.clock = self.gen.max_base_mod()
        self.mutations = 0
        self.generation = 0
        """Bumped on every change; caches keyed by it never serve stale data."""

    @property
    def tenant_id(self) -> int:
        return self.spec.tenant_id

    def store(self, kind: Kind) -> KindStore:
        return self.stores[kind]

    def customer_id_at(self, customer_index: int) -> int:
        """Id of the customer with this generation index (base or added)."""
        base = self.gen.customers.count
        if customer_index < base:
            return self.gen.customers.id_of(customer_index)
        return self.stores["customers"].added_ids[customer_index - base]

    def customer_count(self) -> int:
        """Base plus added customers (the range of customer generation indices)."""
        return self.gen.customers.count + len(self.stores["customers"].added_ids)
