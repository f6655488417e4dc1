"""``Sandbox``: all mutable state of a simulated ServiceTitan, and its Python API for tests.

One object holds the tenants (generated base data + overlays of changes), the token
authority, faults, rate limiter and counters. The ASGI app (:mod:`sandbox.app`) is a thin HTTP
skin over it, and the admin endpoints under ``/_sandbox/`` call the same methods, so a test
drives an in-process sandbox and an out-of-process server the same way.

Thread safety: the server may run in another thread than the test that mutates it, so every
state change and every page build holds ``self.lock``. Ground-truth iterators do not hold it;
do not mutate while iterating.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox import badrecords, mutations
from sandbox.auth import TokenAuthority
from sandbox.badrecords import InjectedRecord
from sandbox.clock import Clock
from sandbox.config import SandboxConfig
from sandbox.counters import Counters
from sandbox.cursor import Position, at_or_after, encode, parse_from
from sandbox.faults import Faults, FaultSettings, Forced429
from sandbox.generate import Kind, Record
from sandbox.lists import ListEngine, ListQuery
from sandbox.mutations import MutationSummary
from sandbox.pagecache import PageCache
from sandbox.ratelimit import RateLimiter
from sandbox.tenant import TenantState
from sandbox.timefmt import TICKS_PER_SECOND

__all__ = ["ExportPage", "InjectedRecord", "MutationSummary", "Sandbox"]


@dataclass(frozen=True)
class ExportPage:
    """A serialized export response and what it contained."""

    body: bytes
    count: int
    has_more: bool
    continue_from: str


class Sandbox:
    """A simulated ServiceTitan with several tenants. See the module docstring."""

    def __init__(self, config: SandboxConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.counters = Counters()
        self.faults = Faults(config.seed, self.clock)
        self.auth = TokenAuthority(config, self.clock, self.faults)
        self.rate_limiter = RateLimiter(self.clock)
        self.lists = ListEngine()
        self.page_cache = PageCache(config.page_cache_bytes)
        self.export_page_size = config.export_page_size
        self.tenants: dict[int, TenantState] = {
            spec.tenant_id: TenantState(config, spec) for spec in config.tenants
        }

    # ---- lookup ----------------------------------------------------------------------------

    def tenant(self, tenant_id: int) -> TenantState:
        try:
            return self.tenants[tenant_id]
        except KeyError:
            raise KeyError(f"no tenant {tenant_id} in this sandbox") from None

    # ---- ground truth ----------------------------------------------------------------------

    def records(self, tenant_id: int, kind: Kind) -> Iterator[Record]:
        """Every record a full export of ``kind`` serves now, in feed order, as dicts.

        Includes injected bad records (decoded leniently) and both occurrences of injected
        duplicates; see :meth:`expected_state` for what a correct consumer ends up with.
        """
        return self.tenant(tenant_id).store(kind).iter_records()

    def invoices(self, tenant_id: int) -> Iterator[Record]:
        return self.records(tenant_id, "invoices")

    def customers(self, tenant_id: int) -> Iterator[Record]:
        return self.records(tenant_id, "customers")

    def contacts(self, tenant_id: int) -> Iterator[Record]:
        return self.records(tenant_id, "contacts")

    def expected_state(self, tenant_id: int, kind: Kind) -> dict[int, Record]:
        """id → record a correct consumer holds after syncing everything: later occurrences
        win, injected records marked ``reject`` are absent."""
        state: dict[int, Record] = {}
        for record in self.tenant(tenant_id).store(kind).iter_records(skip_rejects=True):
            state[record["id"]] = record
        return state

    def record(self, tenant_id: int, kind: Kind, record_id: int) -> Record | None:
        """The current generated record with this id (None if there is none)."""
        with self.lock:
            return self.tenant(tenant_id).store(kind).get(record_id)

    def counts(self, tenant_id: int) -> dict[str, int]:
        """How many records a full export of each kind serves now."""
        return {
            kind: sum(1 for _ in self.records(tenant_id, kind))
            for kind in ("customers", "invoices", "contacts")
        }

    # ---- change ----------------------------------------------------------------------------

    def mutate(
        self,
        tenant_id: int,
        *,
        modify: int = 0,
        add: int = 0,
        deactivate: int = 0,
        merge: int = 0,
        contacts: int = 0,
        kinds: Iterable[Kind] = ("customers", "invoices"),
        seed: int | None = None,
    ) -> MutationSummary:
        """Modify/add/deactivate records of ``kinds``, merge customers, change contacts.

        Every touched record gets a ``modifiedOn`` later than anything existing, so it appears
        at the tail of its export feed. See :func:`sandbox.mutations.mutate`.
        """
        with self.lock:
            return mutations.mutate(
                self.tenant(tenant_id),
                modify=modify,
                add=add,
                deactivate=deactivate,
                merge=merge,
                contacts=contacts,
                kinds=kinds,
                seed=seed,
                base_seed=self.config.seed,
            )

    def inject_bad_records(
        self, tenant_id: int, kind: Kind = "invoices", cases: Iterable[str] | None = None
    ) -> list[InjectedRecord]:
        """Append malformed records to a feed; each result says whether to reject or apply.

        ``cases`` defaults to every case that fits ``kind``
        (:func:`sandbox.badrecords.applicable_cases`).
        """
        with self.lock:
            return badrecords.inject(self.tenant(tenant_id), kind, cases, self.config.seed)

    def reset(self) -> None:
        """Back to the seeded state: no changes, faults, revocations, tokens or counts."""
        with self.lock:
            self.tenants = {
                spec.tenant_id: TenantState(self.config, spec) for spec in self.config.tenants
            }
            self.faults.reset()
            self.auth.reset()
            self.rate_limiter.reset()
            self.counters.reset()
            self.lists.clear()
            self.page_cache.clear()
            self.export_page_size = self.config.export_page_size

    # ---- faults ----------------------------------------------------------------------------

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change fault knobs; see :class:`sandbox.faults.FaultSettings` for their names."""
        settings = self.faults.set(**changes)
        if "rate_limit_per_second" in changes or "rate_limit_burst" in changes:
            self.rate_limiter.reset()
        return settings

    def reset_faults(self) -> None:
        self.faults.reset()
        self.rate_limiter.reset()

    def revoke(self, client_id: str) -> None:
        self.faults.revoke(client_id)

    def restore(self, client_id: str) -> None:
        self.faults.restore(client_id)

    def expire_tokens(self, client_id: str | None = None) -> None:
        self.auth.expire_tokens(client_id)

    def force_429(
        self,
        *,
        count: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        tenant_id: int | None = None,
        endpoint: str | None = None,
    ) -> Forced429:
        return self.faults.force_429(
            count=count,
            seconds=seconds,
            retry_after=retry_after,
            tenant_id=tenant_id,
            endpoint=endpoint,
        )

    def advance_time(self, seconds: float) -> None:
        """Move the sandbox clock forward (tokens expire, rate-limit buckets refill)."""
        self.clock.advance(seconds)

    def set_export_page_size(self, size: int) -> None:
        if size < 1:
            raise ValueError("export page size must be at least 1")
        with self.lock:
            self.export_page_size = size

    def rate_limit(self) -> tuple[float, float]:
        """(requests per second, bucket size) in force now."""
        s = self.faults.settings
        rate = (
            s.rate_limit_per_second
            if s.rate_limit_per_second is not None
            else self.config.rate_limit_per_second
        )
        burst = s.rate_limit_burst or self.config.rate_limit_burst or max(rate, 1.0)
        return rate, burst

    # ---- serving ---------------------------------------------------------------------------

    def export_page(
        self, tenant_id: int, kind: Kind, from_value: str | None, include_recent: bool = False
    ) -> ExportPage:
        """Serialize one export response. Raises ``cursor.BadFrom`` for an unusable ``from``."""
        with self.lock:
            state = self.tenant(tenant_id)
            store = state.store(kind)
            position = parse_from(kind, from_value)
            size = self.export_page_size
            cache_key = (tenant_id, kind, position, size)
            cached = self.page_cache.get(cache_key, state.generation)
            if cached is None:
                page = store.page(position, size)
                data = b"[" + b",".join(page.items) + b"]"
                last = page.last or position
                cached = (data, len(page.items), page.has_more, last)
                self.page_cache.put(cache_key, state.generation, cached)
            data, count, has_more, last = cached
            if include_recent and not has_more:
                window = int(self.config.recent_changes_window_seconds * TICKS_PER_SECOND)
                last = min(last, at_or_after(store.last_mod() - window))
            token = encode(kind, last)
        body = b"".join(
            (
                b'{"hasMore":',
                b"true" if has_more else b"false",
                b',"continueFrom":',
                orjson.dumps(token),
                b',"data":',
                data,
                b"}",
            )
        )
        return ExportPage(body, count, has_more, token)

    def warm(
        self,
        tenant_id: int | None = None,
        kinds: Iterable[Kind] = ("invoices", "customers", "contacts"),
    ) -> int:
        """Pre-build the pages of full exports (from the start) into the page cache.

        Stops when the cache budget is full; returns the number of pages built. Benchmarks use
        it to take the sandbox's generation cost out of the measurement.
        """
        built = 0
        tenant_ids = [tenant_id] if tenant_id is not None else list(self.tenants)
        for tid in tenant_ids:
            for kind in kinds:
                token: str | None = None
                while True:
                    page = self.export_page(tid, kind, token)
                    built += 1
                    token = page.continue_from
                    if (
                        not page.has_more
                        or self.page_cache.size + len(page.body) > self.page_cache.budget
                    ):
                        break
        return built

    def prefetch(self, tenant_id: int, kind: Kind, token: str) -> None:
        """Build (and cache) the page a client will ask for next; errors are irrelevant here."""
        with contextlib.suppress(KeyError, ValueError):
            self.export_page(tenant_id, kind, token)

    def list_page(
        self, tenant_id: int, kind: Kind, query: ListQuery
    ) -> tuple[list[Record], bool, int]:
        with self.lock:
            return self.lists.page(self.tenant(tenant_id), kind, query)

    def contacts_of_customer(
        self, tenant_id: int, customer_id: int, page: int, page_size: int
    ) -> tuple[list[Record], bool, int] | None:
        """Active contacts of one customer (None when the customer does not exist)."""
        with self.lock:
            state = self.tenant(tenant_id)
            customers = state.store("customers")
            entry = customers.current_overlay(customer_id)
            if entry is None:
                return None
            store = state.store("contacts")
            ids = [
                i
                for i in store.contact_ids_of_customer(entry.gen_index, customer_id)
                if store.is_active(i)
            ]
            start = (page - 1) * page_size
            records = [r for i in ids[start : start + page_size] if (r := store.get(i))]
            return records, start + page_size < len(ids), len(ids)

    def position_of(self, kind: Kind, token: str) -> Position:
        """Decode a ``continueFrom`` token (for tests that inspect where a cursor points)."""
        return parse_from(kind, token)
