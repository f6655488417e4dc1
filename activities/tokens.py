"""``refresh_token``: keep a fresh OAuth token cached for a credential, shared by all workers.

The token stays in the database (encrypted); the workflow only learns when it expires and
when to refresh it, so it can refresh ahead of expiry between pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import activity

from activities import errors
from activities.dependencies import SyncDependencies
from contracts.sync import ActivityName, RefreshTokenInput, TokenStatus
from servicetitan.auth import TokenProvider
from servicetitan.errors import CredentialsRejected, ServiceTitanError
from servicetitan.http import shared_http_client


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
            raise errors.from_servicetitan(error) from None
        except ServiceTitanError as error:
            raise errors.from_servicetitan(error) from None
        lifetime = token.expires_at - datetime.now(UTC)
        threshold = timedelta(
            seconds=min(
                self.deps.client_config.token_refresh_threshold_seconds,
                max(lifetime.total_seconds(), 0) / 2,
            )
        )
        return TokenStatus(
            expires_at=token.expires_at.isoformat(),
            refresh_after=(token.expires_at - threshold).isoformat(),
            refreshed=before is None or before.value != token.value,
        )
