"""What a worker keeps in memory per credential: its decrypted secrets and its access token.

Both are read from PostgreSQL once and then reused, so an incremental sync's requests cost no
database read for either; both are dropped as soon as the credential's tenant, environment or
secrets change, on every worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from db import credentials
from servicetitan.tokens import AccessToken
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness


def _token(value: str) -> AccessToken:
    return AccessToken(value, datetime.now(UTC) + timedelta(minutes=15))


def _value(token: AccessToken | None) -> str | None:
    return None if token is None else token.value


async def test_a_sync_s_bookkeeping_keeps_the_decrypted_credential(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    deps = harness.dependencies()
    first = await deps.credentials(credential)
    # What every sync does to the row: a new token, the last sync's time and status.
    await deps.token_store.save(credential, _token("token-one"))
    with psycopg.connect(harness.database_url, autocommit=True) as raw:
        raw.execute(
            "UPDATE servicetitan_credentials SET last_sync_at = now(), updated_at = now() + "
            "interval '1 second', connection_status = 'connected' WHERE id = %s",
            (credential,),
        )

    assert await deps.credentials(credential) is first
    assert _value(deps.token_store.recent(credential)) == "token-one"


async def test_a_new_secret_is_read_and_the_old_token_dropped(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    deps = harness.dependencies()
    await deps.credentials(credential)
    await deps.token_store.save(credential, _token("token-of-the-old-secret"))

    async with harness.database.transaction() as connection:
        await credentials.update_credential(
            connection,
            harness.worker_box,
            credential,
            client_secret="cs1.the-new-secret",
            actor="test",
        )

    assert (await deps.credentials(credential)).client_secret == "cs1.the-new-secret"
    assert deps.token_store.recent(credential) is None


async def test_the_token_store_keeps_what_it_last_saw_and_a_refresh_reads_the_table(
    harness: SyncHarness,
) -> None:
    credential = await harness.add_tenant(TENANT)
    ours, other_process = harness.dependencies().token_store, harness.dependencies().token_store
    assert ours.recent(credential) is None

    await ours.save(credential, _token("first"))
    assert _value(ours.recent(credential)) == "first"

    await other_process.save(credential, _token("second"))
    assert _value(ours.recent(credential)) == "first"  # memory: not re-read per request
    assert _value(await ours.load(credential)) == "second"  # what a refresh reads
    assert _value(ours.recent(credential)) == "second"

    await ours.invalidate(credential, "second")  # refused by ServiceTitan
    assert ours.recent(credential) is None
    assert await other_process.load(credential) is None
