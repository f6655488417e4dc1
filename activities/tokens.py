"""``refresh_token``: keep a fresh OAuth token cached for a credential, shared by all workers.

The token stays in the database (encrypted); the workflow only learns when it expires and
when to refresh it, so it can refresh ahead of expiry between pages. A token this activity
obtained is audited as ``token.issued``, a failure to get one as ``token.failed`` with the
readable reason (once per refresh: a failure the activity's retries will meet again is
recorded on the first attempt only); never the token itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity

from activities import errors
from activities.dependencies import SyncDependencies
from contracts.sync import ActivityName, RefreshTokenInput, TokenStatus
from core.logging import get_logger
from db import audit
from db.credentials import credential_context
from servicetitan.auth import TokenProvider
from servicetitan.config import ClientConfig
from servicetitan.errors import CredentialsRejected, ServiceTitanError
from servicetitan.http import shared_http_client
from servicetitan.tokens import AccessToken

log = get_logger(__name__)


def refresh_after(token: AccessToken, config: ClientConfig) -> datetime:
    """When the workflow should refresh ``token``: a threshold ahead of its expiry (at most
    half its remaining lifetime, so a short-lived token is not refreshed at once)."""
    lifetime = token.expires_at - datetime.now(UTC)
    threshold = timedelta(
        seconds=min(config.token_refresh_threshold_seconds, max(lifetime.total_seconds(), 0) / 2)
    )
    return token.expires_at - threshold


async def cached_refresh_after(deps: SyncDependencies, credential_id: int) -> datetime | None:
    """When the cached token is due for a refresh, if one is cached and not due yet."""
    token = await deps.token_store.load(credential_id)
    if token is None:
        return None
    due = refresh_after(token, deps.client_config)
    return due if due > datetime.now(UTC) else None


class TokenActivities:
    def __init__(self, deps: SyncDependencies) -> None:
        self.deps = deps

    @activity.defn(name=ActivityName.REFRESH_TOKEN)
    async def refresh_token(self, input: RefreshTokenInput) -> TokenStatus:
        """Make sure a fresh token is cached; ``force`` replaces one the API refused."""
        credentials = await self.deps.credentials(input.credential_id)
        provider = TokenProvider(
            self.deps.client_config,
            self.deps.token_store,
            self.deps.http or shared_http_client(),
        )
        before = await self.deps.token_store.load(input.credential_id)
        try:
            if input.force and before is not None:
                token = await provider.replace(credentials, before)
            else:
                token = await provider.get(credentials)
        except CredentialsRejected as error:
            self.deps.forget(input.credential_id)
            await self._audit("token.failed", input.credential_id, {"reason": error.message})
            raise errors.from_servicetitan(error) from None
        except ServiceTitanError as error:
            failure = errors.from_servicetitan(error)
            if failure.non_retryable or activity.info().attempt == 1:
                await self._audit("token.failed", input.credential_id, {"reason": error.message})
            raise failure from None
        refreshed = before is None or before.value != token.value
        if refreshed:
            await self._audit(
                "token.issued",
                input.credential_id,
                {"expires_at": token.expires_at.isoformat(), "replaced_refused": input.force},
            )
        return TokenStatus(
            expires_at=token.expires_at.isoformat(),
            refresh_after=refresh_after(token, self.deps.client_config).isoformat(),
            refreshed=refreshed,
        )

    async def _audit(self, action: str, credential_id: int, details: dict[str, Any]) -> None:
        """Best effort: a lost audit row must not fail (and so repeat) a token request."""
        try:
            async with self.deps.database.transaction() as connection:
                context = await credential_context(connection, credential_id)
                await audit.record(
                    connection,
                    action,
                    actor=self.deps.actor,
                    company_id=context.company_id,
                    credential_id=credential_id,
                    details=details,
                )
        except Exception as error:  # the database is down, the credential is gone: logged
            log.warning(
                "token audit not written",
                action=action,
                credential_id=credential_id,
                error=f"{type(error).__name__}: {error}",
            )
