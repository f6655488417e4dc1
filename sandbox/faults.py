"""Faults on demand: errors, hangs, truncated bodies, latency, forced 429s, revoked clients,
and export feeds that never end (a cursor cycle, endless empty pages).

Random faults are drawn from ``(seed, tenant, endpoint, n)`` where ``n`` counts that stream's
requests since the faults were last configured, so a test that sets ``error_rate=0.3`` and then
pages through a feed sees the same faults on the same requests every run.

By default faults apply to every API endpoint of every tenant but not to the token endpoint;
``tenant_id`` and ``endpoints`` narrow them (name ``"token"`` to include the token endpoint).
Feed faults count each export stream's requests the same way and bend only export responses.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import orjson

from sandbox import endpoints
from sandbox.clock import Clock
from sandbox.cursor import Position, encode, parse_from
from sandbox.rng import Draw, hash_key, str_key

TruncateMode = Literal["json", "close"]


@dataclass
class FaultSettings:
    """The configurable knobs. Rates are probabilities per request, in ``[0, 1]``."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    """A "timeout" hangs this long (without blocking other requests), then answers normally."""
    truncate_rate: float = 0.0
    truncate_mode: TruncateMode = "json"
    """``json``: a complete HTTP 200 whose JSON body stops halfway. ``close``: the connection
    drops mid-body (clients see ``httpx.RemoteProtocolError``, in-process too)."""
    latency_seconds: float = 0.0
    """Added before every matching response (per page)."""
    latency_jitter_seconds: float = 0.0
    token_ttl_seconds: int | None = None
    """Overrides ``expires_in`` of tokens issued from now on."""
    rate_limit_per_second: float | None = None
    """Overrides the configured rate limit (0 disables limiting)."""
    rate_limit_burst: float | None = None
    cursor_cycle_after: int | None = None
    """Export feeds: from this many requests of a stream on, ``continueFrom`` leads back.
    The first such request's ``from`` (A) is served as usual (→ B); any other ``from`` gets
    ``continueFrom`` A and ``hasMore`` true, so a consumer goes A→B→A→B… for ever."""
    empty_pages_after: int | None = None
    """Export feeds: from this many requests of a stream on, every page is ``data: []`` with
    ``hasMore`` true and a valid ``continueFrom`` one step past its ``from``: the cursor
    advances, nothing ever arrives."""
    tenant_id: int | None = None
    endpoints: frozenset[str] | None = None

    def validate(self) -> None:
        for name in ("error_rate", "timeout_rate", "truncate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.error_rate + self.timeout_rate + self.truncate_rate > 1.0:
            raise ValueError("error_rate + timeout_rate + truncate_rate cannot exceed 1")
        for status in self.error_statuses:
            if not 400 <= status <= 599:
                raise ValueError(f"error status must be 4xx/5xx, got {status}")
        if not self.error_statuses:
            raise ValueError("error_statuses cannot be empty")
        if self.truncate_mode not in ("json", "close"):
            raise ValueError("truncate_mode is 'json' or 'close'")
        if min(self.timeout_seconds, self.latency_seconds, self.latency_jitter_seconds) < 0:
            raise ValueError("durations cannot be negative")
        if self.token_ttl_seconds is not None and self.token_ttl_seconds < 1:
            raise ValueError("token_ttl_seconds must be at least 1")
        for name in ("cursor_cycle_after", "empty_pages_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if self.endpoints is not None:
            unknown = set(self.endpoints) - set(endpoints.ALL)
            if unknown:
                raise ValueError(f"unknown endpoints {sorted(unknown)}; known: {endpoints.ALL}")

    def applies(self, tenant_id: int | None, endpoint: str) -> bool:
        if self.tenant_id is not None and tenant_id != self.tenant_id:
            return False
        if self.endpoints is None:
            return endpoint != endpoints.TOKEN
        return endpoint in self.endpoints

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["endpoints"] = sorted(self.endpoints) if self.endpoints is not None else None
        return data


@dataclass
class Forced429:
    """Answer 429 to the next ``remaining`` matching requests and/or until ``until``."""

    retry_after: int
    remaining: int | None = None
    until: float | None = None
    tenant_id: int | None = None
    endpoints: frozenset[str] | None = None

    def applies(self, tenant_id: int | None, endpoint: str, now: float) -> bool:
        if self.tenant_id is not None and tenant_id != self.tenant_id:
            return False
        if self.endpoints is None:
            if endpoint == endpoints.TOKEN:
                return False
        elif endpoint not in self.endpoints:
            return False
        if self.until is not None and now >= self.until:
            return False
        return self.remaining is None or self.remaining > 0


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    latency: float = 0.0
    error_status: int | None = None
    hang_seconds: float = 0.0
    truncate: TruncateMode | None = None


NO_FAULT = Decision()


@dataclass(frozen=True)
class BentPage:
    """An export response as a feed fault rewrote it, and the fault's counter name."""

    body: bytes
    count: int
    fault: Literal["cursor_cycle", "empty_page"]


_DATA_FIELD = b',"data":'
"""Where the records start in an export body (``Sandbox.export_page`` writes ``hasMore``,
then ``continueFrom``, then ``data``)."""


@dataclass
class Faults:
    """The live fault configuration of a sandbox (mutate via ``set``/``reset``)."""

    seed: int
    clock: Clock
    settings: FaultSettings = field(default_factory=FaultSettings)
    forced: list[Forced429] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    _streams: dict[tuple[int | None, str], int] = field(default_factory=dict)
    _feeds: dict[tuple[int | None, str], int] = field(default_factory=dict)
    """Export requests per stream since the faults were configured (feed faults)."""
    _anchors: dict[tuple[int | None, str], str] = field(default_factory=dict)
    """The ``from`` each cycling stream leads back to."""
    _epoch: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, **changes: Any) -> FaultSettings:
        """Change some knobs (names of :class:`FaultSettings`); others keep their values."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        if "error_statuses" in changes:
            changes["error_statuses"] = tuple(int(s) for s in changes["error_statuses"])
        if changes.get("endpoints") is not None:
            value = changes["endpoints"]
            changes["endpoints"] = frozenset([value] if isinstance(value, str) else value)
        candidate = FaultSettings(**{**asdict(self.settings), **changes})
        if "error_statuses" not in changes:
            candidate.error_statuses = self.settings.error_statuses
        if "endpoints" not in changes:
            candidate.endpoints = self.settings.endpoints
        candidate.validate()
        with self._lock:
            self.settings = candidate
            self._clear_counts()
        return candidate

    def _clear_counts(self) -> None:
        self._streams.clear()
        self._feeds.clear()
        self._anchors.clear()
        self._epoch += 1

    def reset(self) -> None:
        """No faults, no forced 429s, no revocations, configured rate limit."""
        with self._lock:
            self.settings = FaultSettings()
            self.forced.clear()
            self.revoked.clear()
            self._clear_counts()

    def revoke(self, client_id: str) -> None:
        """The token endpoint answers ``invalid_client`` and existing tokens get 401."""
        with self._lock:
            self.revoked.add(client_id)

    def restore(self, client_id: str) -> None:
        with self._lock:
            self.revoked.discard(client_id)

    def force_429(
        self,
        *,
        count: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        tenant_id: int | None = None,
        endpoint: str | None = None,
    ) -> Forced429:
        """429 for the next ``count`` matching requests and/or for ``seconds``."""
        if count is None and seconds is None:
            raise ValueError("give count and/or seconds")
        if retry_after < 0:
            raise ValueError("retry_after cannot be negative")
        if endpoint is not None and endpoint not in endpoints.ALL:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        rule = Forced429(
            retry_after=retry_after,
            remaining=count,
            until=self.clock.monotonic() + seconds if seconds is not None else None,
            tenant_id=tenant_id,
            endpoints=frozenset([endpoint]) if endpoint else None,
        )
        with self._lock:
            self.forced.append(rule)
        return rule

    def forced_retry_after(self, tenant_id: int | None, endpoint: str) -> int | None:
        """If a forced-429 rule matches, consume it and return its Retry-After."""
        now = self.clock.monotonic()
        with self._lock:
            self.forced = [
                r
                for r in self.forced
                if (r.remaining is None or r.remaining > 0) and (r.until is None or now < r.until)
            ]
            for rule in self.forced:
                if rule.applies(tenant_id, endpoint, now):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.retry_after
        return None

    def decide(self, tenant_id: int | None, endpoint: str) -> Decision:
        """The (deterministic) fault for the next request of this tenant and endpoint."""
        s = self.settings
        if not s.applies(tenant_id, endpoint):
            return NO_FAULT
        if not (s.error_rate or s.timeout_rate or s.truncate_rate or s.latency_seconds):
            return NO_FAULT
        with self._lock:
            stream = (tenant_id, endpoint)
            n = self._streams.get(stream, 0)
            self._streams[stream] = n + 1
            epoch = self._epoch
        draw = Draw(hash_key(self.seed, tenant_id or 0, str_key(endpoint), n, epoch))
        latency = s.latency_seconds
        if s.latency_jitter_seconds:
            latency += s.latency_jitter_seconds * draw.below(1001) / 1000
        roll = draw.below(1_000_000) / 1_000_000
        if roll < s.error_rate:
            return Decision(
                latency, error_status=s.error_statuses[draw.below(len(s.error_statuses))]
            )
        roll -= s.error_rate
        if roll < s.timeout_rate:
            return Decision(latency, hang_seconds=s.timeout_seconds)
        roll -= s.timeout_rate
        if roll < s.truncate_rate:
            return Decision(latency, truncate=s.truncate_mode)
        return Decision(latency)

    def bend_export(
        self,
        tenant_id: int,
        endpoint: str,
        kind: str,
        raw_from: str | None,
        body: bytes,
        count: int,
    ) -> BentPage | None:
        """The feed fault's version of an export response (``body`` holding ``count``
        records, served for ``from=raw_from``), or None to serve it as it is."""
        s = self.settings
        if s.cursor_cycle_after is None and s.empty_pages_after is None:
            return None
        if not s.applies(tenant_id, endpoint):
            return None
        with self._lock:
            stream = (tenant_id, endpoint)
            n = self._feeds.get(stream, 0)
            self._feeds[stream] = n + 1
            if s.empty_pages_after is not None and n >= s.empty_pages_after:
                here = parse_from(kind, raw_from)
                token = encode(kind, Position(here.mod, here.key + 1))
                return BentPage(_envelope(token, b"[]"), 0, "empty_page")
            if s.cursor_cycle_after is None or n < s.cursor_cycle_after or not raw_from:
                return None
            anchor = self._anchors.setdefault(stream, raw_from)
        start = body.find(_DATA_FIELD)
        if raw_from == anchor or start < 0:
            return None
        data = body[start + len(_DATA_FIELD) : -1]
        return BentPage(_envelope(anchor, data), count, "cursor_cycle")


def _envelope(continue_from: str, data: bytes) -> bytes:
    """An export body that has more to come, by its own account."""
    return b"".join(
        (b'{"hasMore":true,"continueFrom":', orjson.dumps(continue_from), _DATA_FIELD, data, b"}")
    )
