"""What the sandbox served, counted so tests can prove what a client did.

The key counter is per page cursor: ``(tenant, endpoint, cursor)`` where the cursor is the
``from`` value of an export request or the page/pageSize/filter of a list request. A test can
then assert "no export page was fetched twice" (``refetched()`` is empty) or "at most one page
was re-fetched after the crash". ``page_requests`` counts every authenticated request for a
cursor (including ones answered with a 429 or an injected fault, so client retries show);
``pages_served`` counts only complete 200 responses.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

CursorKey = tuple[int, str, str]


class Counters:
    """Thread-safe counters (the server thread writes while a test thread reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zero()

    def _zero(self) -> None:
        self.requests: Counter[str] = Counter()
        self.requests_by_tenant: Counter[tuple[int, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.token_requests = 0
        self.tokens_issued = 0
        self.token_failures: Counter[str] = Counter()
        self.auth_failures: Counter[str] = Counter()
        self.rate_limited = 0
        self.rate_limited_by_tenant: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.page_requests: Counter[CursorKey] = Counter()
        self.pages_served: Counter[CursorKey] = Counter()
        self.records_served: Counter[tuple[int, str]] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._zero()

    # ---- recording (called by the app) -----------------------------------------------------

    def request(self, endpoint: str, tenant_id: int | None) -> None:
        with self._lock:
            self.requests[endpoint] += 1
            if tenant_id is not None:
                self.requests_by_tenant[(tenant_id, endpoint)] += 1

    def status(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1

    def token(self, outcome: str) -> None:
        """``issued`` or the OAuth error code returned."""
        with self._lock:
            self.token_requests += 1
            if outcome == "issued":
                self.tokens_issued += 1
            else:
                self.token_failures[outcome] += 1

    def auth_failure(self, reason: str) -> None:
        with self._lock:
            self.auth_failures[reason] += 1

    def throttled(self, tenant_id: int) -> None:
        with self._lock:
            self.rate_limited += 1
            self.rate_limited_by_tenant[tenant_id] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def page_requested(self, key: CursorKey) -> None:
        with self._lock:
            self.page_requests[key] += 1

    def page_served(self, key: CursorKey, records: int) -> None:
        with self._lock:
            self.pages_served[key] += 1
            self.records_served[(key[0], key[1])] += records

    # ---- questions tests ask ---------------------------------------------------------------

    def refetched(
        self, tenant_id: int | None = None, endpoint: str | None = None, *, served: bool = True
    ) -> dict[CursorKey, int]:
        """Cursors requested (or, by default, served) more than once."""
        source = self.pages_served if served else self.page_requests
        with self._lock:
            return {
                key: n
                for key, n in source.items()
                if n > 1
                and (tenant_id is None or key[0] == tenant_id)
                and (endpoint is None or key[1] == endpoint)
            }

    def fetches(self, tenant_id: int, endpoint: str, cursor: str, *, served: bool = True) -> int:
        source = self.pages_served if served else self.page_requests
        with self._lock:
            return source[(tenant_id, endpoint, cursor)]

    def snapshot(self) -> dict[str, Any]:
        """Everything as JSON-friendly data (what ``GET /_sandbox/counters`` returns).

        ``taken_at`` is the server's ``time.monotonic()`` when the counts were read (one clock
        for every process on the machine), so a client measuring rates between snapshots is
        not misled by how long each snapshot took to reach it.
        """
        with self._lock:
            return {
                "taken_at": time.monotonic(),
                "requests": dict(self.requests),
                "requests_by_tenant": [
                    {"tenant_id": t, "endpoint": e, "count": n}
                    for (t, e), n in sorted(self.requests_by_tenant.items())
                ],
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "token_failures": dict(self.token_failures),
                "auth_failures": dict(self.auth_failures),
                "rate_limited": self.rate_limited,
                "rate_limited_by_tenant": {
                    str(k): v for k, v in self.rate_limited_by_tenant.items()
                },
                "faults": dict(self.faults),
                "pages": [
                    {
                        "tenant_id": t,
                        "endpoint": e,
                        "cursor": c,
                        "requested": n,
                        "served": self.pages_served.get((t, e, c), 0),
                    }
                    for (t, e, c), n in self.page_requests.items()
                ],
                "records_served": [
                    {"tenant_id": t, "endpoint": e, "count": n}
                    for (t, e), n in sorted(self.records_served.items())
                ],
            }
