"""Onboarding sandbox tenants and running syncs the way an operator would.

A company and an encrypted credential per tenant (``db/credentials.py``), then
``SyncWorkflow`` started on the worker's task queue under the credential's one workflow id.
Timing runs from the start request to the workflow's result, so it includes everything a user
waits for: start_run, the token, every page, dispatch and finish_run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client

from bench.plan import Tenant
from bench.verify import BenchFailure
from contracts.sync import Mode, SyncInput, SyncResult
from core.crypto import KeyRing, SecretBox
from db import credentials
from db.database import Database
from sandbox.config import default_client_id, default_client_secret
from workflows.sync import SyncWorkflow, workflow_id_for


async def onboard(database_url: str, keys: str, tenants: Sequence[Tenant]) -> dict[int, int]:
    """Company + production credential per tenant; returns tenant id -> credential id."""
    box = SecretBox(KeyRing.parse(keys))
    database = Database(database_url, pool_size=2)
    ids: dict[int, int] = {}
    try:
        for tenant in tenants:
            async with database.transaction() as connection:
                company = await credentials.add_company(
                    connection,
                    name=f"Bench {tenant.tenant_id}",
                    intacct_id=f"B{tenant.tenant_id}",
                    primary_trade="HVAC",
                    actor="bench",
                )
                ids[tenant.tenant_id] = await credentials.add_credential(
                    connection,
                    box,
                    company_id=company,
                    tenant_id=str(tenant.tenant_id),
                    client_id=default_client_id(tenant.tenant_id),
                    client_secret=default_client_secret(tenant.tenant_id),
                    environment="production",
                    actor="bench",
                )
    finally:
        await database.close()
    return ids


@dataclass(frozen=True)
class SyncRun:
    credential_id: int
    seconds: float
    result: SyncResult

    @property
    def records(self) -> int:
        """Records read from the export feeds (every page applied, rejects included)."""
        return sum(stream.records for stream in self.result.streams)

    @property
    def pages(self) -> int:
        return sum(stream.pages for stream in self.result.streams)


async def sync(
    client: Client,
    credential_id: int,
    task_queue: str,
    *,
    mode: Mode = "incremental",
    limit_seconds: float,
) -> SyncRun:
    """One sync, start to result; raises ``BenchFailure`` unless it completed."""
    started = time.perf_counter()
    handle = await client.start_workflow(
        SyncWorkflow.run,
        SyncInput(credential_id=credential_id, mode=mode),
        id=workflow_id_for(credential_id),
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=limit_seconds),
    )
    try:
        result = await asyncio.wait_for(handle.result(), limit_seconds)
    except Exception as error:
        raise BenchFailure(
            f"sync of credential {credential_id} did not complete: {error}"
        ) from None
    seconds = time.perf_counter() - started
    if result.status != "completed":
        raise BenchFailure(f"sync of credential {credential_id} ended {result.status}")
    if result.records_rejected:
        raise BenchFailure(
            f"sync of credential {credential_id} rejected {result.records_rejected} records"
        )
    return SyncRun(credential_id, seconds, result)


async def sync_all(
    client: Client,
    credential_ids: Sequence[int],
    task_queue: str,
    *,
    mode: Mode = "incremental",
    limit_seconds: float,
) -> tuple[float, list[SyncRun]]:
    """Start every sync at once; returns the wall time until the last one finished."""
    started = time.perf_counter()
    runs = await asyncio.gather(
        *(
            sync(client, c, task_queue, mode=mode, limit_seconds=limit_seconds)
            for c in credential_ids
        )
    )
    return time.perf_counter() - started, list(runs)
