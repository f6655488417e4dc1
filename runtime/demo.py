"""The first-run demo: with nothing configured, show a real sync happen.

When the sandbox plays ServiceTitan (embedded defaults, no app key), the worker onboards a
demo company and credential if there are none, schedules it hourly, runs its first sync and
reports progress in the terminal with a link to the run in the Temporal Web UI. On later
starts it only says where things are. Everything it does is what an operator would do with
``starter.py`` — nothing here is special-cased in the sync itself.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError

from core.crypto import SecretBox
from core.embedded.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT
from core.infrastructure import Infrastructure
from core.logging import get_logger
from core.settings import Settings
from db import credentials, reports
from db.database import Database
from runtime import schedules
from runtime.sync_control import progress, start_sync

log = get_logger("demo")

ACTOR = "demo"


async def ensure_demo_credential(database: Database, box: SecretBox) -> tuple[int, bool]:
    """The demo credential's id (created if no credential exists), and whether it was created."""
    async with database.transaction() as connection:
        existing = await credentials.list_credentials(connection, box)
        if existing:
            return existing[0].id, False
        company = await credentials.add_company(
            connection,
            name="Demo Plumbing & Heating",
            intacct_id=f"DEMO-{DEMO_TENANT}",
            primary_trade="Plumbing",
            actor=ACTOR,
        )
        credential = await credentials.add_credential(
            connection,
            box,
            company_id=company,
            tenant_id=str(DEMO_TENANT),
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            environment="integration",
            actor=ACTOR,
        )
    return credential, True


async def run_demo(
    client: Client, infra: Infrastructure, settings: Settings, database: Database, box: SecretBox
) -> None:
    credential, created = await ensure_demo_credential(database, box)
    async with database.transaction() as connection:
        info = await credentials.get_credential(connection, box, credential)
        last = await reports.last_sync(connection, credential)
    if created:
        log.info(
            "demo: onboarded a sandbox tenant",
            company=info.company_name,
            credential_id=credential,
            tenant_id=info.tenant_id,
        )
    if await schedules.find(client, credential) is None:
        await schedules.set_schedule(
            client,
            settings,
            credential,
            every=timedelta(hours=1),
            jitter=timedelta(minutes=1),
            company_id=info.company_id,
            tenant_id=info.tenant_id,
        )
        log.info("demo: scheduled an hourly sync", schedule=schedules.schedule_id_for(credential))
    ui = f"{infra.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows"
    if last is not None and last.status == "completed":
        log.info(
            "demo: already synced; the schedule keeps it current",
            credential_id=credential,
            last_sync=last.completed_at.isoformat() if last.completed_at else None,
            records=last.records_processed,
            web_ui=ui,
        )
        return
    started = await start_sync(client, settings, credential)
    log.info(
        "demo: first sync started — watch it in the Temporal Web UI",
        workflow_id=started.workflow_id,
        url=f"{ui}/{started.workflow_id}",
    )
    result_task = asyncio.ensure_future(started.handle.result())
    while not result_task.done():
        await asyncio.wait([result_task], timeout=2.0)
        if result_task.done():
            break
        state = await progress(started.handle)
        log.info(
            "demo: syncing",
            **{
                s.stream: f"{s.records} records, {s.pages} pages{' (done)' if s.done else ''}"
                for s in state.streams
            },
        )
    try:
        result = result_task.result()
    except WorkflowFailureError as failure:
        log.error("demo: sync failed", error=str(failure.cause or failure))
        return
    log.info(
        "demo: sync completed",
        records=result.records_processed,
        rejected=result.records_rejected,
        **{s.stream: s.records for s in result.streams},
    )
    log.info(
        "demo: try the CLI next",
        dashboard="python starter.py dashboard",
        history="python starter.py history",
        web_ui=ui,
    )
