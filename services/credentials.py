"""ServiceTitan credentials: create, list, read, update, delete, test, switch, metadata.

What a caller gets back is ``CredentialView`` (client id masked, never a secret). Creating,
changing, testing and deleting need ``MANAGE`` on the credential's company; reading needs
``READ``. A new tenant or environment resets the credential's cursors (``db.credentials``)
and is refused while a sync of it runs, as is a delete unless ``force``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import WorkflowFailureError

from contracts.sync import DataType, Mode
from db import audit, credentials
from db.credentials import CredentialInfo
from db.schema import DATA_TYPES, ENVIRONMENTS
from db.token_store import DatabaseTokenStore
from runtime import schedules
from runtime.servicetitan import client_config
from runtime.sync_control import running_sync
from services import switches
from services.access import Action, company_filter, may, require, visible
from services.context import ServiceContext
from services.errors import Conflict, Invalid, NotFound, translated
from services.identity import Principal, Role
from services.pages import MAX_PAGE_SIZE
from services.switches import SwitchResult
from servicetitan.client import ServiceTitanClient
from servicetitan.config import Credentials

CredentialView = CredentialInfo
SYNC_MODES: tuple[Mode, ...] = ("incremental", "full", "from_date")


def missing(credential_id: int) -> str:
    """The one message for a credential that does not exist or is not the caller's."""
    return f"no credential with id {credential_id}"


async def visible_credential(
    ctx: ServiceContext, principal: Principal, credential_id: int, action: Action
) -> CredentialView:
    """The credential if the principal may do ``action`` on it (``NotFound``/``Forbidden``)."""
    async with ctx.database.transaction() as connection:
        try:
            info = await credentials.get_credential(connection, ctx.box, credential_id)
        except credentials.NotFoundError:
            raise NotFound(missing(credential_id)) from None
    require(principal, action, info.company_id, missing=missing(credential_id))
    return info


def _check_values(tenant_id: str | None, environment: str | None) -> None:
    if tenant_id is not None and not tenant_id.isdigit():
        raise Invalid(
            f"tenant id must be ServiceTitan's numeric tenant id (got {tenant_id!r})", "tenant_id"
        )
    if environment is not None and environment not in ENVIRONMENTS:
        raise Invalid(
            f"environment must be one of {', '.join(ENVIRONMENTS)} (got {environment!r})",
            "environment",
        )


async def create_credential(
    ctx: ServiceContext,
    principal: Principal,
    *,
    company_id: int,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    environment: str,
) -> CredentialView:
    require(principal, Action.MANAGE, company_id, missing=f"no company with id {company_id}")
    _check_values(tenant_id, environment)
    _check_client_id(client_id)
    if not client_secret.strip():
        raise Invalid("client secret must not be blank", "client_secret")
    with translated():
        async with ctx.database.transaction() as connection:
            credential_id = await credentials.add_credential(
                connection,
                ctx.box,
                company_id=company_id,
                tenant_id=tenant_id,
                client_id=client_id,
                client_secret=client_secret,
                environment=environment,
                actor=principal.actor,
            )
            return await credentials.get_credential(connection, ctx.box, credential_id)


async def list_credentials(
    ctx: ServiceContext, principal: Principal, *, company_id: int | None = None
) -> list[CredentialView]:
    """The caller's companies' credentials (optionally one company's), by id.

    A company filter the caller may not see is not found, as in the other filtered lists.
    """
    if company_id is not None:
        require(principal, Action.READ, company_id, missing=f"no company with id {company_id}")
    async with ctx.database.transaction() as connection:
        rows = await credentials.list_credentials(connection, ctx.box)
    return [
        row
        for row in rows
        if visible(principal, row.company_id) and company_id in (None, row.company_id)
    ]


async def get_credential(
    ctx: ServiceContext, principal: Principal, credential_id: int
) -> CredentialView:
    return await visible_credential(ctx, principal, credential_id, Action.READ)


@dataclass(frozen=True)
class CredentialUpdate:
    id: int
    changed: list[str]
    cursors_reset: bool  # the next sync is a full sync of the new feed


async def update_credential(
    ctx: ServiceContext,
    principal: Principal,
    credential_id: int,
    *,
    tenant_id: str | None = None,
    environment: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> CredentialUpdate:
    """Change values in place (history and schedule stay); rotating the secret included."""
    await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    _check_values(tenant_id, environment)
    if client_id is not None:
        _check_client_id(client_id)
    if tenant_id is not None or environment is not None:
        # A running sync would store the old feed's positions again after the reset.
        handle = await running_sync(await ctx.client(), credential_id)
        if handle is not None:
            raise Conflict(
                f"a sync of credential {credential_id} is running ({handle.id}); wait for it "
                "or cancel it before changing its tenant or environment",
                {"workflowId": handle.id, "credentialId": credential_id},
            )
    with translated():
        async with ctx.database.transaction() as connection:
            change = await credentials.update_credential(
                connection,
                ctx.box,
                credential_id,
                actor=principal.actor,
                tenant_id=tenant_id,
                environment=environment,
                client_id=client_id,
                client_secret=client_secret,
            )
    return CredentialUpdate(credential_id, change.changed, change.cursors_reset)


@dataclass(frozen=True)
class CredentialDeleted:
    id: int
    schedule_deleted: bool
    sync_cancelled: bool


async def delete_credential(
    ctx: ServiceContext, principal: Principal, credential_id: int, *, force: bool = False
) -> CredentialDeleted:
    """Delete a credential, its secrets and schedule; its history stays (unlinked).

    Refused while a sync of it runs, unless ``force`` (which cancels the sync first).
    """
    await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    client = await ctx.client()
    handle = await running_sync(client, credential_id)
    if handle is not None:
        if not force:
            raise Conflict(
                f"a sync of credential {credential_id} is running ({handle.id}); wait for it, "
                "or pass --force to cancel it",
                {"workflowId": handle.id, "credentialId": credential_id},
            )
        await handle.cancel()
        # It ends as cancelled (a failure of the run) or, at worst, is still stopping.
        with contextlib.suppress(WorkflowFailureError, TimeoutError):
            await asyncio.wait_for(handle.result(), timeout=60)
    schedule = await schedules.find(client, credential_id)
    if schedule is not None:
        await schedule.delete()
    with translated():
        async with ctx.database.transaction() as connection:
            await credentials.delete_credential(connection, credential_id, actor=principal.actor)
    return CredentialDeleted(credential_id, schedule is not None, handle is not None)


@dataclass(frozen=True)
class ConnectionTest:
    id: int
    verdict: str
    reason: str
    token_expires_at: datetime | None
    connected: bool


async def test_connection(
    ctx: ServiceContext, principal: Principal, credential_id: int
) -> ConnectionTest:
    """Request a token and make one API call; records the connection status (audited)."""
    await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    with translated():
        async with ctx.database.transaction() as connection:
            context = await credentials.credential_context(connection, credential_id)
            secrets = await credentials.load_secrets(connection, ctx.box, credential_id)
    client = ServiceTitanClient(
        Credentials(
            credential_id=credential_id,
            tenant_id=int(context.tenant_id),
            environment="production" if context.environment == "production" else "integration",
            client_id=secrets.client_id,
            client_secret=secrets.client_secret,
        ),
        client_config(ctx.settings),
        DatabaseTokenStore(ctx.database, ctx.box),
    )
    check = await client.validate_credentials()
    async with ctx.database.transaction() as connection:
        await credentials.record_connection_test(
            connection,
            credential_id,
            verdict=check.verdict,
            reason=check.reason,
            actor=principal.actor,
        )
        # The test always asks for a new token: an issuance (or a failure) of its own.
        failed = check.reason.startswith("token request:")
        await audit.record(
            connection,
            "token.failed" if failed else "token.issued",
            actor=principal.actor,
            company_id=context.company_id,
            credential_id=credential_id,
            details={"reason": check.reason} if failed else {"by": "connection test"},
        )
    return ConnectionTest(
        credential_id, check.verdict, check.reason, check.token_expires_at, check.connected
    )


async def set_enabled(
    ctx: ServiceContext,
    principal: Principal,
    credential_id: int,
    *,
    enabled: bool,
    reason: str | None = None,
) -> SwitchResult:
    """The credential's kill switch (see ``services.switches``)."""
    await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    return await switches.apply_switch(
        ctx, principal, credential_id=credential_id, enabled=enabled, reason=reason
    )


@dataclass(frozen=True)
class CredentialMetadata:
    """What a credential form needs: choices, limits, and what this caller may do."""

    environments: list[str]
    data_types: list[DataType]
    sync_modes: list[Mode]
    limits: dict[str, int]
    role: str
    company_ids: list[int] | None  # None: every company
    can_read: bool
    can_manage: bool
    can_manage_companies: bool


LIMITS = {
    "tenant_id_max_length": 255,
    "client_id_max_length": 255,
    "client_secret_max_length": 1024,
    "credentials_per_company_and_environment": 1,
    "history_page_size_max": MAX_PAGE_SIZE,
}


def metadata(principal: Principal) -> CredentialMetadata:
    companies = company_filter(principal)
    return CredentialMetadata(
        environments=list(ENVIRONMENTS),
        data_types=list(DATA_TYPES),  # type: ignore[arg-type]
        sync_modes=list(SYNC_MODES),
        limits=dict(LIMITS),
        role=principal.role.value,
        company_ids=sorted(companies) if companies is not None else None,
        can_read=True,
        can_manage=may(principal, Action.MANAGE),
        can_manage_companies=principal.role is Role.ADMIN,
    )


def _check_client_id(client_id: str) -> None:
    """A client id is printable text (ServiceTitan issues ``cid.`` and letters and digits)."""
    if not client_id.strip():
        raise Invalid("client id must not be blank", "client_id")
    if not client_id.isprintable():
        raise Invalid("client id must not contain control characters", "client_id")
