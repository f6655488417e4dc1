"""Companies and ServiceTitan credentials: the only code that sees secrets in clear.

Secrets are encrypted before they reach SQL and decrypted only into ``CredentialSecrets``,
whose ``repr`` hides them. Everything meant for display (``CredentialInfo``) carries a masked
client id and no secret at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.crypto import DecryptionError, SecretBox, aad_for
from db import audit
from db.schema import (
    ENVIRONMENTS,
    Company,
    ServiceTitanCredential,
    ServiceTitanSyncLog,
    SyncState,
)


class NotFoundError(LookupError):
    """An id that names nothing."""


class ConflictError(ValueError):
    """A write that would break a uniqueness rule, explained."""


@dataclass(frozen=True)
class CredentialSecrets:
    """Decrypted client credentials. Never shown: ``repr`` masks both values."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class CompanyInfo:
    id: int
    name: str
    intacct_id: str
    primary_trade: str
    sync_enabled: bool = True


@dataclass(frozen=True)
class CredentialInfo:
    """What may be displayed about a credential."""

    id: int
    company_id: int
    company_name: str
    intacct_id: str
    primary_trade: str
    tenant_id: str
    environment: str
    client_id_masked: str
    connection_status: str
    last_sync_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None
    sync_enabled: bool
    company_sync_enabled: bool
    disabled_reason: str | None


@dataclass(frozen=True)
class CredentialChange:
    """What ``update_credential`` changed; ``cursors_reset`` means the next sync is full."""

    changed: list[str]
    cursors_reset: bool


def credential_aad(credential_id: int, column: str) -> str:
    """Each ciphertext is bound to its credential's row and column (see core.crypto)."""
    return aad_for(ServiceTitanCredential.__tablename__, credential_id, column)


def mask(value: str) -> str:
    """``cid.9vboa5tbba30`` → ``cid.…ba30``: enough to recognise, not enough to use."""
    if len(value) <= 8:
        return "…" + value[-2:] if len(value) > 4 else "****"
    return f"{value[:4]}…{value[-4:]}"


def _validate_environment(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"environment must be one of {', '.join(ENVIRONMENTS)} (got {environment!r})"
        )


def _validate_tenant(tenant_id: str) -> None:
    if not tenant_id.isdigit():
        raise ValueError(f"tenant id must be ServiceTitan's numeric tenant id (got {tenant_id!r})")


# --- companies ------------------------------------------------------------------------------


async def add_company(
    connection: AsyncConnection, *, name: str, intacct_id: str, primary_trade: str, actor: str
) -> int:
    if not name.strip() or not intacct_id.strip() or not primary_trade.strip():
        raise ValueError("company name, intacct id and trade must not be blank")
    try:
        async with connection.begin_nested():
            company_id = await connection.scalar(
                insert(Company)
                .values(
                    name=name.strip(),
                    intacct_id=intacct_id.strip(),
                    primary_trade=primary_trade.strip(),
                )
                .returning(Company.id)
            )
    except IntegrityError:
        raise ConflictError(f"a company with intacct id {intacct_id!r} already exists") from None
    assert company_id is not None
    await audit.record(
        connection,
        "company.created",
        actor=actor,
        company_id=company_id,
        details={"name": name, "intacct_id": intacct_id, "trade": primary_trade},
    )
    return int(company_id)


async def get_company(connection: AsyncConnection, company_id: int) -> CompanyInfo:
    row = (
        await connection.execute(
            select(
                Company.id,
                Company.name,
                Company.intacct_id,
                Company.primary_trade,
                Company.sync_enabled,
            ).where(Company.id == company_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no company with id {company_id}")
    return CompanyInfo(*row)


async def list_companies(connection: AsyncConnection) -> list[CompanyInfo]:
    rows = await connection.execute(
        select(
            Company.id,
            Company.name,
            Company.intacct_id,
            Company.primary_trade,
            Company.sync_enabled,
        ).order_by(Company.id)
    )
    return [CompanyInfo(*row) for row in rows]


# --- credentials ----------------------------------------------------------------------------


async def add_credential(
    connection: AsyncConnection,
    box: SecretBox,
    *,
    company_id: int,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    environment: str,
    actor: str,
) -> int:
    _validate_environment(environment)
    _validate_tenant(tenant_id)
    if not client_id.strip() or not client_secret.strip():
        raise ValueError("client id and client secret must not be blank")
    await get_company(connection, company_id)
    # The ciphertexts are bound to the row's id, so the id is drawn before the INSERT.
    credential_id = await connection.scalar(
        select(
            func.nextval(func.pg_get_serial_sequence(ServiceTitanCredential.__tablename__, "id"))
        )
    )
    assert credential_id is not None
    try:
        async with connection.begin_nested():
            await connection.execute(
                insert(ServiceTitanCredential).values(
                    id=credential_id,
                    company_id=company_id,
                    tenant_id=tenant_id,
                    client_id=box.encrypt(
                        client_id.strip(), aad=credential_aad(credential_id, "client_id")
                    ),
                    client_secret=box.encrypt(
                        client_secret.strip(), aad=credential_aad(credential_id, "client_secret")
                    ),
                    environment=environment,
                )
            )
    except IntegrityError:
        raise ConflictError(
            f"company {company_id} already has a {environment} credential "
            "(one per company and environment; use `credentials update` to change it)"
        ) from None
    assert credential_id is not None
    await audit.record(
        connection,
        "credential.created",
        actor=actor,
        company_id=company_id,
        credential_id=int(credential_id),
        details={"tenant_id": tenant_id, "environment": environment},
    )
    return int(credential_id)


def _info_query() -> Select[*tuple[Any, ...]]:
    c = ServiceTitanCredential
    return select(
        c.id,
        c.company_id,
        Company.name,
        Company.intacct_id,
        Company.primary_trade,
        c.tenant_id,
        c.environment,
        c.client_id,
        c.connection_status,
        c.last_sync_at,
        c.last_error,
        c.created_at,
        c.updated_at,
        c.secret_rotated_at,
        c.sync_enabled,
        Company.sync_enabled,
        func.coalesce(c.disabled_reason, Company.disabled_reason),
    ).join(Company, Company.id == c.company_id)


def _to_info(row: tuple[object, ...], box: SecretBox) -> CredentialInfo:
    values = list(row)
    credential_id = int(str(values[0]))
    values[7] = mask(
        box.decrypt(
            str(values[7]),
            aad=credential_aad(credential_id, "client_id"),
            what=f"client_id of credential {credential_id}",
        )
    )
    return CredentialInfo(*values)  # type: ignore[arg-type]


async def get_credential(
    connection: AsyncConnection, box: SecretBox, credential_id: int
) -> CredentialInfo:
    row = (
        await connection.execute(_info_query().where(ServiceTitanCredential.id == credential_id))
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no credential with id {credential_id}")
    return _to_info(tuple(row), box)


async def list_credentials(connection: AsyncConnection, box: SecretBox) -> list[CredentialInfo]:
    rows = await connection.execute(_info_query().order_by(ServiceTitanCredential.id))
    return [_to_info(tuple(row), box) for row in rows]


@dataclass(frozen=True)
class CredentialContext:
    """What a sync run needs to know about its credential and company (no secrets)."""

    credential_id: int
    company_id: int
    intacct_id: str
    primary_trade: str
    tenant_id: str
    environment: str


def credential_context_columns() -> tuple[Any, ...]:
    """The columns of a ``CredentialContext``, in its order (for queries that join more)."""
    c = ServiceTitanCredential
    return (
        c.id,
        c.company_id,
        Company.intacct_id,
        Company.primary_trade,
        c.tenant_id,
        c.environment,
    )


async def credential_context(
    connection: AsyncConnection, credential_id: int, *, lock: bool = False
) -> CredentialContext:
    """The credential's ``CredentialContext``; ``lock`` holds its row until the transaction ends."""
    c = ServiceTitanCredential
    query = (
        select(*credential_context_columns())
        .join(Company, Company.id == c.company_id)
        .where(c.id == credential_id)
    )
    if lock:
        query = query.with_for_update(of=c)
    row = (await connection.execute(query)).one_or_none()
    if row is None:
        raise NotFoundError(f"no credential with id {credential_id}")
    return CredentialContext(*row)


CredentialVersion = tuple[str, str, str, str]
"""A credential's tenant, environment and encrypted client id and secret."""


async def credential_version(connection: AsyncConnection, credential_id: int) -> CredentialVersion:
    """What a cache of the credential's decrypted values checks: the columns they come from.

    Not ``updated_at``: every token refresh and every sync's bookkeeping moves that, and the
    cache would miss on each new sync. A new tenant, environment or secret (or a re-encryption
    under a new key) changes the version.
    """
    c = ServiceTitanCredential
    row = (
        await connection.execute(
            select(c.tenant_id, c.environment, c.client_id, c.client_secret).where(
                c.id == credential_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no credential with id {credential_id}")
    return (row[0], row[1], row[2], row[3])


async def load_secrets(
    connection: AsyncConnection, box: SecretBox, credential_id: int
) -> CredentialSecrets:
    row = (
        await connection.execute(
            select(ServiceTitanCredential.client_id, ServiceTitanCredential.client_secret).where(
                ServiceTitanCredential.id == credential_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no credential with id {credential_id}")
    return CredentialSecrets(
        client_id=box.decrypt(
            row[0],
            aad=credential_aad(credential_id, "client_id"),
            what=f"client_id of credential {credential_id}",
        ),
        client_secret=box.decrypt(
            row[1],
            aad=credential_aad(credential_id, "client_secret"),
            what=f"client_secret of credential {credential_id}",
        ),
    )


async def set_connection_status(
    connection: AsyncConnection, credential_id: int, status: str, error: str | None = None
) -> None:
    await connection.execute(
        update(ServiceTitanCredential)
        .where(ServiceTitanCredential.id == credential_id)
        .values(connection_status=status, last_error=error, updated_at=func.now())
    )


@dataclass(frozen=True)
class RotationResult:
    """What ``keys rotate`` did: values re-encrypted, and cached tokens no key opened."""

    rewritten: int
    tokens_dropped: int


async def rotate_encryption(
    connection: AsyncConnection, box: SecretBox, *, actor: str
) -> RotationResult:
    """Re-encrypt every stored secret under the newest key.

    A cached access token that no configured key opens is dropped (a new one is requested on
    the next call), not a reason to abort: it is disposable. A client id or secret no key
    opens still aborts the whole rotation, before anything is written.
    """
    c = ServiceTitanCredential
    rows = (
        await connection.execute(
            select(c.id, c.client_id, c.client_secret, c.access_token).with_for_update()
        )
    ).all()
    rewritten = dropped = 0
    for credential_id, client_id, client_secret, access_token in rows:
        values: dict[str, str | None] = {}
        for name, ciphertext in (
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("access_token", access_token),
        ):
            if ciphertext is None or box.is_current(ciphertext):
                continue
            what = f"{name} of credential {credential_id}"
            try:
                values[name] = box.rotate(
                    ciphertext, aad=credential_aad(credential_id, name), what=what
                )
                rewritten += 1
            except DecryptionError:
                if name != "access_token":
                    raise
                values.update(access_token=None, token_expires_at=None)
                dropped += 1
        if values:
            await connection.execute(update(c).where(c.id == credential_id).values(**values))
    await audit.record(
        connection,
        "keys.rotated",
        actor=actor,
        details={"values_rewritten": rewritten, "tokens_dropped": dropped},
    )
    return RotationResult(rewritten=rewritten, tokens_dropped=dropped)


async def set_sync_enabled(
    connection: AsyncConnection,
    *,
    credential_id: int | None = None,
    company_id: int | None = None,
    enabled: bool,
    reason: str | None,
    actor: str,
) -> None:
    """Flip the kill switch of a credential or a whole company."""
    if (credential_id is None) == (company_id is None):
        raise ValueError("give exactly one of credential_id and company_id")
    values = {"sync_enabled": enabled, "disabled_reason": None if enabled else reason}
    if credential_id is not None:
        c = ServiceTitanCredential
        result = await connection.execute(
            update(c).where(c.id == credential_id).values(**values, updated_at=func.now())
        )
        if result.rowcount == 0:
            raise NotFoundError(f"no credential with id {credential_id}")
        company_id = await connection.scalar(select(c.company_id).where(c.id == credential_id))
    else:
        result = await connection.execute(
            update(Company).where(Company.id == company_id).values(**values, updated_at=func.now())
        )
        if result.rowcount == 0:
            raise NotFoundError(f"no company with id {company_id}")
    await audit.record(
        connection,
        "sync.enabled" if enabled else "sync.disabled",
        actor=actor,
        company_id=company_id,
        credential_id=credential_id,
        details={"reason": reason, "scope": "credential" if credential_id else "company"},
    )


async def credential_ids_of_company(connection: AsyncConnection, company_id: int) -> list[int]:
    await get_company(connection, company_id)
    rows = await connection.execute(
        select(ServiceTitanCredential.id)
        .where(ServiceTitanCredential.company_id == company_id)
        .order_by(ServiceTitanCredential.id)
    )
    return [row[0] for row in rows]


async def update_credential(
    connection: AsyncConnection,
    box: SecretBox,
    credential_id: int,
    *,
    actor: str,
    tenant_id: str | None = None,
    environment: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> CredentialChange:
    """Change a credential in place (its sync history stays); says what changed.

    A new client id, secret, tenant or environment drops the cached access token (it belongs
    to the old values) and resets the connection status until the next test or sync proves
    the new values. A different tenant or environment also deletes the credential's cursors:
    they are positions in the old tenant's feeds, and an incremental sync from them would
    silently skip the new feed's older records, so the next sync is full.
    """
    current = await get_credential(connection, box, credential_id)
    values: dict[str, object] = {}
    if tenant_id is not None:
        _validate_tenant(tenant_id)
        values["tenant_id"] = tenant_id
    if environment is not None:
        _validate_environment(environment)
        values["environment"] = environment
    if client_id is not None:
        if not client_id.strip():
            raise ValueError("client id must not be blank")
        values["client_id"] = box.encrypt(
            client_id.strip(), aad=credential_aad(credential_id, "client_id")
        )
    if client_secret is not None:
        if not client_secret.strip():
            raise ValueError("client secret must not be blank")
        values["client_secret"] = box.encrypt(
            client_secret.strip(), aad=credential_aad(credential_id, "client_secret")
        )
        values["secret_rotated_at"] = func.now()
    if not values:
        raise ValueError(
            "nothing to update: give --tenant-id, --environment, --client-id or a new secret"
        )
    values.update(access_token=None, token_expires_at=None, connection_status="pending")
    c = ServiceTitanCredential
    try:
        async with connection.begin_nested():
            await connection.execute(
                update(c).where(c.id == credential_id).values(**values, updated_at=func.now())
            )
    except IntegrityError:
        raise ConflictError(
            f"company {current.company_id} already has a {environment} credential "
            "(one per company and environment)"
        ) from None
    moved = (tenant_id not in (None, current.tenant_id)) or (
        environment not in (None, current.environment)
    )
    if moved:
        await connection.execute(delete(SyncState).where(SyncState.credential_id == credential_id))
    change = CredentialChange(
        changed=[
            name
            for name, given in (
                ("tenant_id", tenant_id),
                ("environment", environment),
                ("client_id", client_id),
                ("client_secret", client_secret),
            )
            if given is not None
        ],
        cursors_reset=moved,
    )
    await audit.record(
        connection,
        "credential.updated",
        actor=actor,
        company_id=current.company_id,
        credential_id=credential_id,
        details={"changed": change.changed, "cursors_reset": change.cursors_reset},
    )
    return change


async def delete_credential(connection: AsyncConnection, credential_id: int, *, actor: str) -> None:
    """Delete a credential, its secrets, token and cursors; keep the history of its company.

    Its sync logs, rejected records and outbox rows stay with ``credential_id`` NULL (each
    run keeps its import job, hence its company); the audit row says which tenant and
    environment the credential was and how many runs were kept.
    """
    c = ServiceTitanCredential
    row = (
        await connection.execute(
            select(c.company_id, c.tenant_id, c.environment).where(c.id == credential_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no credential with id {credential_id}")
    company_id, tenant_id, environment = row
    runs = await connection.scalar(
        select(func.count())
        .select_from(ServiceTitanSyncLog)
        .where(ServiceTitanSyncLog.credential_id == credential_id)
    )
    await connection.execute(delete(c).where(c.id == credential_id))
    await audit.record(
        connection,
        "credential.deleted",
        actor=actor,
        company_id=company_id,
        credential_id=credential_id,
        details={"tenant_id": tenant_id, "environment": environment, "sync_logs_kept": runs},
    )


async def record_connection_test(
    connection: AsyncConnection,
    credential_id: int,
    *,
    verdict: str,
    reason: str,
    actor: str,
) -> None:
    status = "connected" if verdict == "connected" else "error"
    await set_connection_status(
        connection, credential_id, status, None if status == "connected" else reason
    )
    company_id = await connection.scalar(
        select(ServiceTitanCredential.company_id).where(ServiceTitanCredential.id == credential_id)
    )
    await audit.record(
        connection,
        "credential.tested",
        actor=actor,
        company_id=company_id,
        credential_id=credential_id,
        details={"verdict": verdict, "reason": reason},
    )
