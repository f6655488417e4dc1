"""Access tokens: cached in the shared ``TokenStore``, refreshed once per credential at a time.

ServiceTitan issues 15-minute client-credentials tokens, no refresh tokens, and throttles its
token endpoint. So a token is requested only when the cached one has less than the refresh
threshold left (or was refused), and concurrent refreshes for one credential collapse into a
single request:

1. the token this process last saw (``TokenStore.recent``), else the store's; fresh → use it
   (the common path: no read at all, or one store read; no lock);
2. take this process's asyncio lock for the credential (coroutines in one process queue here
   instead of each holding a database connection while waiting for the cross-process lock);
3. look again; take the store's ``refresh_lock`` (one holder across all processes); look again;
4. only then POST ``/connect/token``, save the result, release the locks.

Every waiter that queued behind the refresher finds the new token at step 2 or 3.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog

from servicetitan.config import ClientConfig, Credentials
from servicetitan.errors import (
    BadRequest,
    CredentialsRejected,
    InvalidResponse,
    RateLimited,
    ServiceTitanError,
    ServiceUnavailable,
)
from servicetitan.http import Received, ResponseTooLarge, receive, request_timeout
from servicetitan.observer import observer
from servicetitan.responses import error_for_status, now_utc, too_large, transport_error, where
from servicetitan.tokens import AccessToken, TokenStore

log = structlog.stdlib.get_logger("servicetitan.auth")

AUTH_ENDPOINT = "POST /connect/token"
DEFAULT_LIFETIME_SECONDS = 900.0
"""ServiceTitan's documented token lifetime, used when a response omits ``expires_in``."""
MAX_LIFETIME_SECONDS = 86400.0
"""A token said to live longer than a day is a broken response (ServiceTitan's live 15 min)."""
MIN_USABLE_SECONDS = 30.0
"""A failed refresh may fall back to the current token only if at least this much is left."""

# OAuth error codes (RFC 6749 §5.2) that mean "this credential will not work as it is".
_REJECTING_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope", "access_denied"}
)

_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
_observed_lifetimes: dict[int, float] = {}
_early_refresh_paused_until: dict[int, datetime] = {}
"""After an early refresh failed (throttled/unavailable) and the current token was kept: do not
try again before this moment, so a throttled token endpoint is not asked on every call."""
RETRY_EARLY_REFRESH_AFTER_SECONDS = 10.0


def _process_lock(credential_id: int) -> asyncio.Lock:
    """The in-process lock for a credential, one per event loop (locks bind to their loop)."""
    per_loop = _process_locks.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(credential_id)
    if lock is None:
        lock = per_loop[credential_id] = asyncio.Lock()
    return lock


def _scrub(text: str, credentials: Credentials) -> str:
    """Remove the credential's own id and secret from server-provided text, just in case."""
    for secret in (credentials.client_secret, credentials.client_id):
        if secret:
            text = text.replace(secret, "***")
    return text[:300]


class TokenProvider:
    """Hands out valid access tokens for credentials, sharing them through a ``TokenStore``."""

    def __init__(
        self,
        config: ClientConfig,
        store: TokenStore,
        http: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = now_utc,
    ) -> None:
        self._config = config
        self._store = store
        self._http = http
        self._now = now

    @property
    def store(self) -> TokenStore:
        return self._store

    def _threshold(self, credential_id: int) -> timedelta:
        """The refresh threshold, capped at half a token's lifetime once the lifetime is known.

        Without the cap, a threshold longer than the lifetime (a misconfiguration, or a
        short-lived test token) would request a new token before every call.
        """
        seconds = self._config.token_refresh_threshold_seconds
        lifetime = _observed_lifetimes.get(credential_id)
        if lifetime is not None:
            seconds = min(seconds, lifetime / 2)
        return timedelta(seconds=seconds)

    def _usable(self, credential_id: int, token: AccessToken | None, refused: str | None) -> bool:
        return (
            token is not None
            and token.value != refused
            and token.is_fresh(self._threshold(credential_id), self._now())
        )

    async def get(self, credentials: Credentials) -> AccessToken:
        """A token with more than the refresh threshold left, requesting one if needed."""
        cid = credentials.credential_id
        token = self._store.recent(cid)
        if not self._usable(cid, token, None):
            token = await self._store.load(cid)
        if self._usable(cid, token, None):
            assert token is not None
            return token
        paused_until = _early_refresh_paused_until.get(cid)
        if paused_until is not None and self._now() < paused_until:
            kept = self._fallback(token, None)
            if kept is not None:
                return kept
        return await self._refresh(credentials, refused=None)

    async def replace(self, credentials: Credentials, refused: AccessToken) -> AccessToken:
        """After ServiceTitan refused ``refused`` (401): forget it and get a different one.

        If another caller already replaced it, that newer token is returned without a request.
        """
        await self._store.invalidate(credentials.credential_id, refused.value)
        return await self._refresh(credentials, refused=refused.value)

    async def _refresh(self, credentials: Credentials, *, refused: str | None) -> AccessToken:
        cid = credentials.credential_id
        async with _process_lock(cid):
            token = await self._store.load(cid)
            if self._usable(cid, token, refused):
                assert token is not None
                return token
            async with self._store.refresh_lock(cid):
                token = await self._store.load(cid)
                if self._usable(cid, token, refused):
                    assert token is not None
                    return token
                try:
                    new = await self.request_token(credentials)
                except (RateLimited, ServiceUnavailable) as exc:
                    fallback = self._fallback(token, refused)
                    if fallback is None:
                        raise
                    pause = (
                        exc.retry_after
                        if isinstance(exc, RateLimited)
                        else RETRY_EARLY_REFRESH_AFTER_SECONDS
                    )
                    _early_refresh_paused_until[cid] = self._now() + timedelta(seconds=pause)
                    log.warning(
                        "servicetitan.token.refresh_deferred",
                        credential_id=cid,
                        tenant_id=credentials.tenant_id,
                        error=exc.message,
                        token_expires_at=fallback.expires_at.isoformat(),
                    )
                    return fallback
                await self._store.save(cid, new)
                _early_refresh_paused_until.pop(cid, None)
                return new

    def _fallback(self, token: AccessToken | None, refused: str | None) -> AccessToken | None:
        """The current token, if a failed early refresh can be shrugged off."""
        if token is None or token.value == refused:
            return None
        if token.remaining(self._now()) < timedelta(seconds=MIN_USABLE_SECONDS):
            return None
        return token

    async def request_token(self, credentials: Credentials) -> AccessToken:
        """One client-credentials request, no caching. Raises the client's typed errors."""
        urls = self._config.urls(credentials.environment)
        sent_at = self._now()  # expiry counts from before the request: conservative
        started = time.perf_counter()
        try:
            response = await receive(
                self._http,
                "POST",
                urls.token_url,
                max_bytes=self._config.max_response_bytes,
                timeouts=request_timeout(self._config),
                data={
                    "grant_type": "client_credentials",
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.RequestError as exc:
            error = transport_error(exc, endpoint=AUTH_ENDPOINT, tenant_id=credentials.tenant_id)
            self._log_failure(credentials, error, started)
            raise error from None
        except ResponseTooLarge as exc:
            error = too_large(exc, endpoint=AUTH_ENDPOINT, tenant_id=credentials.tenant_id)
            self._log_failure(credentials, error, started)
            raise error from None
        try:
            token = self._token_from_response(response, credentials, sent_at)
        except ServiceTitanError as error:
            self._log_failure(credentials, error, started)
            raise
        log.info(
            "servicetitan.token.issued",
            credential_id=credentials.credential_id,
            tenant_id=credentials.tenant_id,
            environment=credentials.environment,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            token_expires_at=token.expires_at.isoformat(),
        )
        observer().token("issued")
        return token

    def _log_failure(
        self, credentials: Credentials, error: ServiceTitanError, started: float
    ) -> None:
        observer().token(type(error).__name__)
        log.warning(
            "servicetitan.token.failed",
            credential_id=credentials.credential_id,
            tenant_id=credentials.tenant_id,
            environment=credentials.environment,
            status=error.status,
            error_type=type(error).__name__,
            error=error.message,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    def _token_from_response(
        self, response: Received, credentials: Credentials, sent_at: datetime
    ) -> AccessToken:
        place = where(AUTH_ENDPOINT, credentials.tenant_id)
        body = _json_object(response.content)
        status = response.status_code
        if status != 200:
            oauth_error = body.get("error") if body else None
            if status in (400, 401, 403) and (
                oauth_error in _REJECTING_ERRORS or (status != 400 and oauth_error is None)
            ):
                reason = str(oauth_error or ("unauthorized" if status == 401 else "forbidden"))
                description = body.get("error_description") if body else None
                text = (
                    f": {_scrub(description, credentials)}" if isinstance(description, str) else ""
                )
                raise CredentialsRejected(
                    f"ServiceTitan rejected the client id/secret ({reason}) on {place}{text}",
                    reason=reason,
                    status=status,
                    endpoint=AUTH_ENDPOINT,
                    tenant_id=credentials.tenant_id,
                )
            if status == 400 and isinstance(oauth_error, str):
                raise BadRequest(
                    f"ServiceTitan refused the token request ({oauth_error[:100]}) on {place}",
                    status=status,
                    endpoint=AUTH_ENDPOINT,
                    tenant_id=credentials.tenant_id,
                )
            raise error_for_status(
                response,
                endpoint=AUTH_ENDPOINT,
                tenant_id=credentials.tenant_id,
                default_retry_after=self._config.default_retry_after_seconds,
                max_retry_after=self._config.max_retry_after_seconds,
            )
        value = body.get("access_token") if body else None
        if not isinstance(value, str) or not value:
            raise InvalidResponse(
                f"ServiceTitan's token response on {place} has no access_token",
                status=status,
                endpoint=AUTH_ENDPOINT,
                tenant_id=credentials.tenant_id,
            )
        lifetime = _seconds(body.get("expires_in") if body else None)
        if lifetime is None:
            lifetime = DEFAULT_LIFETIME_SECONDS
        elif lifetime > MAX_LIFETIME_SECONDS:
            raise InvalidResponse(
                f"ServiceTitan's token response on {place} has an unusable expires_in "
                f"({lifetime:.6g} s; at most {MAX_LIFETIME_SECONDS:g} s is plausible)",
                retryable=False,
                status=status,
                endpoint=AUTH_ENDPOINT,
                tenant_id=credentials.tenant_id,
            )
        _observed_lifetimes[credentials.credential_id] = lifetime
        return AccessToken(value=value, expires_at=sent_at + timedelta(seconds=lifetime))


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        decoded = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _seconds(value: object) -> float | None:
    """A positive number of seconds (infinity included, for the caller to refuse), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except ValueError:
            return None
        except OverflowError:  # an integer beyond any float
            return math.inf
        return number if number > 0 else None  # NaN is not > 0 either
    return None
