"""``ServiceTitanClient``: everything the activities ask of ServiceTitan, for one credential.

It knows nothing about Temporal. Each method makes the fewest calls it can and raises the typed
errors of ``servicetitan.errors``; the only retry inside is the one that a refused token
deserves (401/403 → forget the token, get a new one, repeat the call once). Everything else —
429, 5xx, timeouts — surfaces at once so the caller's retry policy (Temporal) decides.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx
import structlog

from servicetitan.auth import TokenProvider
from servicetitan.config import ClientConfig, Credentials
from servicetitan.errors import (
    BadRequest,
    CredentialsRejected,
    InvalidResponse,
    RateLimited,
    ServiceTitanError,
    ServiceUnavailable,
)
from servicetitan.http import (
    Received,
    ResponseTooLarge,
    receive,
    request_timeout,
    shared_http_client,
)
from servicetitan.observer import report_request
from servicetitan.pages import ExportPage, ExportStream, ListPage, ListResource
from servicetitan.ratelimit import Limiters, process_rate_limiters
from servicetitan.responses import error_for_status, now_utc, too_large, transport_error, where
from servicetitan.tokens import AccessToken, TokenStore

log = structlog.stdlib.get_logger("servicetitan.client")

DEFAULT_PAGE_SIZE = 5000
"""Page size for list endpoints: what the Meltano tap uses in production for these endpoints."""

ALL_TIME = "2000-01-01T00:00:00Z"
"""``modifiedOnOrAfter`` sent to the contacts list when no filter is given: that endpoint
requires one of ``customerIds``/``modifiedBefore``/``modifiedOnOrAfter`` (400 otherwise), and
ServiceTitan holds no record modified before 2000."""

Timestamp = datetime | str
ParamValue = str | int | bool


def format_timestamp(value: Timestamp) -> str:
    """ISO-8601 in UTC for ``from``/``modifiedOnOrAfter``; strings (tokens, dates) pass as-is."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _param(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class CredentialCheck:
    """The verdict of ``validate_credentials``, phrased for an operator."""

    verdict: Literal["connected", "rejected", "unreachable"]
    reason: str
    token_expires_at: datetime | None = None
    error: ServiceTitanError | None = None

    @property
    def connected(self) -> bool:
        return self.verdict == "connected"


class ServiceTitanClient:
    """API access for one credential (one tenant in one environment).

    Cheap to build: the HTTP pool, the rate limiters and the token cache are shared (by
    default process-wide; pass ``http``/``rate_limiters`` to isolate, as tests do, or to share
    the rate limit with other processes, as the worker does).
    """

    def __init__(
        self,
        credentials: Credentials,
        config: ClientConfig,
        token_store: TokenStore,
        *,
        http: httpx.AsyncClient | None = None,
        rate_limiters: Limiters | None = None,
        now: Callable[[], datetime] = now_utc,
    ) -> None:
        self.credentials = credentials
        self.config = config
        self._http = http if http is not None else shared_http_client()
        self._urls = config.urls(credentials.environment)
        self._tokens = TokenProvider(config, token_store, self._http, now=now)
        self._limiter = (rate_limiters or process_rate_limiters()).get(
            config.app_key,
            credentials.tenant_id,
            config.rate_limit_per_second,
            config.effective_burst,
        )
        self._timeout = request_timeout(config)

    def __repr__(self) -> str:
        return f"ServiceTitanClient({self.credentials!r})"

    @property
    def tenant_id(self) -> int:
        return self.credentials.tenant_id

    # --- export feeds ---------------------------------------------------------------------

    async def fetch_export_page(
        self,
        stream: ExportStream,
        from_: Timestamp | None = None,
        *,
        include_recent_changes: bool = False,
    ) -> ExportPage:
        """One export request: ``from_`` is a ``continueFrom`` token, a date, or None (start).

        The primary API of the sync: one page per activity call.
        """
        params: dict[str, str] = {}
        requested = format_timestamp(from_) if from_ is not None else None
        if requested:
            params["from"] = requested
        if include_recent_changes:
            params["includeRecentChanges"] = "true"
        path = stream.path.format(tenant=self.tenant_id)
        response = await self._get(path, params)
        try:
            return ExportPage.from_raw(stream, response.content, requested_from=requested)
        except InvalidResponse as exc:
            raise self._invalid(exc, path, response.status_code) from None

    async def export_pages(
        self,
        stream: ExportStream,
        from_: Timestamp | None = None,
        *,
        include_recent_changes: bool = False,
    ) -> AsyncIterator[ExportPage]:
        """Every page from ``from_`` until ServiceTitan says ``hasMore`` is false.

        The last page yielded has ``has_more`` False; its ``continue_from`` is where the next
        poll (minutes later) resumes.
        """
        cursor = format_timestamp(from_) if from_ is not None else None
        while True:
            page = await self.fetch_export_page(
                stream, cursor, include_recent_changes=include_recent_changes
            )
            yield page
            if not page.has_more:
                return
            if not page.continue_from or page.continue_from == cursor:
                raise InvalidResponse(
                    f"ServiceTitan said hasMore on the {stream.value} export of tenant "
                    f"{self.tenant_id} but gave no new continueFrom; stopping to avoid a loop",
                    endpoint=stream.path.format(tenant=self.tenant_id),
                    tenant_id=self.tenant_id,
                )
            cursor = page.continue_from

    # --- paged lists ----------------------------------------------------------------------

    async def fetch_list_page(
        self,
        resource: ListResource,
        page: int = 1,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        modified_on_or_after: Timestamp | None = None,
        include_total: bool = False,
        include_inactive: bool = True,
        params: Mapping[str, ParamValue] | None = None,
    ) -> ListPage:
        """One page of a list endpoint. ``include_inactive`` sends ``active=Any`` (customers)
        or ``activeState=All`` (invoices): without it ServiceTitan hides deactivated records.
        ``params`` adds or overrides query parameters (``sort``, ``ids``, ``customerIds`` …).
        """
        if page < 1:
            raise ValueError("page counts from 1")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        query: dict[str, str] = {"page": str(page), "pageSize": str(page_size)}
        if include_total:
            query["includeTotal"] = "true"
        if modified_on_or_after is not None:
            query["modifiedOnOrAfter"] = format_timestamp(modified_on_or_after)
        elif resource is ListResource.CUSTOMER_CONTACTS and not (
            params and ("customerIds" in params or "modifiedBefore" in params)
        ):
            query["modifiedOnOrAfter"] = ALL_TIME
        if include_inactive:
            query.update(resource.all_records_params)
        for name, value in (params or {}).items():
            query[name] = _param(value)
        path = resource.path.format(tenant=self.tenant_id)
        response = await self._get(path, query)
        try:
            return ListPage.from_raw(resource, response.content, page=page, page_size=page_size)
        except InvalidResponse as exc:
            raise self._invalid(exc, path, response.status_code) from None

    async def list_pages(
        self,
        resource: ListResource,
        *,
        start_page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        modified_on_or_after: Timestamp | None = None,
        include_total: bool = False,
        include_inactive: bool = True,
        params: Mapping[str, ParamValue] | None = None,
    ) -> AsyncIterator[ListPage]:
        """Pages ``start_page``, ``start_page + 1`` … until ``hasMore`` is false."""
        page_number = start_page
        while True:
            page = await self.fetch_list_page(
                resource,
                page_number,
                page_size=page_size,
                modified_on_or_after=modified_on_or_after,
                include_total=include_total,
                include_inactive=include_inactive,
                params=params,
            )
            yield page
            if not page.has_more:
                return
            page_number += 1

    async def count(
        self,
        resource: ListResource,
        *,
        modified_on_or_after: Timestamp | None = None,
        include_inactive: bool = True,
    ) -> int | None:
        """A cheap total for progress bars (``includeTotal`` with ``pageSize=1``).

        None when ServiceTitan leaves ``totalCount`` out. An estimate: records change meanwhile.
        """
        page = await self.fetch_list_page(
            resource,
            1,
            page_size=1,
            modified_on_or_after=modified_on_or_after,
            include_total=True,
            include_inactive=include_inactive,
        )
        return page.total_count

    # --- connection test ------------------------------------------------------------------

    async def validate_credentials(self) -> CredentialCheck:
        """Request a new token and make one minimal API call; never raises ServiceTitanError.

        The token request bypasses the cache on purpose (a cached token proves nothing about
        the current secret); the new token is then cached for the calls that follow.
        """
        try:
            token = await self._tokens.request_token(self.credentials)
        except ServiceTitanError as exc:
            return self._verdict(exc, stage="token request")
        await self._tokens.store.save(self.credentials.credential_id, token)
        probe = ListResource.CUSTOMERS.path.format(tenant=self.tenant_id)
        try:
            await self._get(probe, {"page": "1", "pageSize": "1"}, token=token, retry_refused=False)
        except ServiceTitanError as exc:
            return self._verdict(exc, stage="API call")
        return CredentialCheck(
            verdict="connected",
            reason=f"token issued and tenant {self.tenant_id} answered",
            token_expires_at=token.expires_at,
        )

    def _verdict(self, exc: ServiceTitanError, *, stage: str) -> CredentialCheck:
        if isinstance(exc, CredentialsRejected | BadRequest):
            verdict: Literal["rejected", "unreachable"] = "rejected"
        elif isinstance(exc, RateLimited | ServiceUnavailable):
            verdict = "unreachable"
        else:
            verdict = "rejected" if not exc.retryable else "unreachable"
        log.info(
            "servicetitan.credentials.checked",
            credential_id=self.credentials.credential_id,
            tenant_id=self.tenant_id,
            verdict=verdict,
            stage=stage,
            error_type=type(exc).__name__,
        )
        return CredentialCheck(verdict=verdict, reason=f"{stage}: {exc.message}", error=exc)

    # --- transport ------------------------------------------------------------------------

    async def _get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        token: AccessToken | None = None,
        retry_refused: bool = True,
    ) -> Received:
        """GET with auth, pacing, the size cap and error mapping; a 2xx response or a typed error.

        A 401/403 is answered once by replacing the token (the cached one may have been
        revoked or expired early); a second refusal is final.
        """
        endpoint = f"GET {path}"
        url = self._urls.api_url + path
        if token is None:
            token = await self._tokens.get(self.credentials)
        attempt = 1
        while True:
            waited = await self._limiter.acquire()
            started = time.perf_counter()
            try:
                response = await receive(
                    self._http,
                    "GET",
                    url,
                    max_bytes=self.config.max_response_bytes,
                    timeouts=self._timeout,
                    params=params,
                    headers={
                        "Authorization": f"Bearer {token.value}",
                        "ST-App-Key": self.config.app_key,
                    },
                )
            except httpx.RequestError as exc:
                error = transport_error(exc, endpoint=endpoint, tenant_id=self.tenant_id)
                self._log_request(endpoint, None, started, waited, attempt, error)
                raise error from exc
            except ResponseTooLarge as exc:
                error = too_large(exc, endpoint=endpoint, tenant_id=self.tenant_id)
                self._log_request(endpoint, exc.status, started, waited, attempt, error)
                raise error from None
            status = response.status_code
            if status in (401, 403) and retry_refused and attempt == 1:
                self._log_request(endpoint, status, started, waited, attempt, None)
                log.info(
                    "servicetitan.token.refused",
                    credential_id=self.credentials.credential_id,
                    tenant_id=self.tenant_id,
                    endpoint=endpoint,
                    status=status,
                )
                token = await self._tokens.replace(self.credentials, token)
                attempt += 1
                continue
            if response.is_success:
                self._log_request(endpoint, status, started, waited, attempt, None)
                return response
            error = error_for_status(
                response,
                endpoint=endpoint,
                tenant_id=self.tenant_id,
                default_retry_after=self.config.default_retry_after_seconds,
                max_retry_after=self.config.max_retry_after_seconds,
            )
            self._log_request(endpoint, status, started, waited, attempt, error)
            raise error

    def _invalid(self, exc: InvalidResponse, path: str, status: int) -> InvalidResponse:
        endpoint = f"GET {path}"
        error = InvalidResponse(
            f"{exc.message} on {where(endpoint, self.tenant_id)}",
            retryable=exc.retryable,
            status=status,
            endpoint=endpoint,
            tenant_id=self.tenant_id,
        )
        log.warning(
            "servicetitan.response.invalid",
            credential_id=self.credentials.credential_id,
            tenant_id=self.tenant_id,
            endpoint=endpoint,
            status=status,
            error=error.message,
        )
        return error

    def _log_request(
        self,
        endpoint: str,
        status: int | None,
        started: float,
        waited: float,
        attempt: int,
        error: ServiceTitanError | None,
    ) -> None:
        fields = {
            "credential_id": self.credentials.credential_id,
            "tenant_id": self.tenant_id,
            "endpoint": endpoint,
            "status": status,
            "attempt": attempt,
            "duration_ms": round((elapsed := time.perf_counter() - started) * 1000, 1),
            "rate_limit_wait_ms": round(waited * 1000, 1),
        }
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        report_request(endpoint, self.credentials.credential_id, status, elapsed, retry_after)
        if error is None:
            log.debug("servicetitan.request", **fields)
        else:
            log.warning(
                "servicetitan.request.failed",
                error_type=type(error).__name__,
                retryable=error.retryable,
                error=error.message,
                **fields,
            )
