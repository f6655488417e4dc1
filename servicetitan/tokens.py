"""Where access tokens live between calls, and how refreshes are kept to one at a time.

ServiceTitan throttles its token endpoint, so every process that works for one credential must
share one token. The client asks a ``TokenStore`` for the cached token; when it is missing or
close to expiry, the client takes the store's refresh lock (one holder across all processes),
looks again (another process may have refreshed meanwhile) and only then asks ServiceTitan.

The implementation (``db.token_store``) keeps tokens encrypted in PostgreSQL; this module only
states the contract, and knows nothing about Temporal or the database.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the moment it stops working. ``repr`` never shows the value."""

    value: str = field(repr=False)
    expires_at: datetime

    def remaining(self, now: datetime | None = None) -> timedelta:
        return self.expires_at - (now or datetime.now(UTC))

    def is_fresh(self, threshold: timedelta, now: datetime | None = None) -> bool:
        """True while more than ``threshold`` of the token's life remains."""
        return self.remaining(now) > threshold


class TokenStore(Protocol):
    """Shared token cache keyed by credential id."""

    def recent(self, credential_id: int) -> AccessToken | None:
        """The token this store last loaded or saved for the credential, asking no one.

        What the client tries first: a fresh one saves a read of the shared store per request.
        """
        ...

    async def load(self, credential_id: int) -> AccessToken | None:
        """The cached token, or None when there is none (expired ones may be returned)."""
        ...

    async def save(self, credential_id: int, token: AccessToken) -> None:
        """Replace the cached token."""
        ...

    async def invalidate(self, credential_id: int, token_value: str) -> None:
        """Forget the token if it is still the cached one (another refresh may have won)."""
        ...

    def refresh_lock(self, credential_id: int) -> AbstractAsyncContextManager[None]:
        """An async context manager held while refreshing: one holder per credential."""
        ...
