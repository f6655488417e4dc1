"""End-to-end sync harness: a real worker, real Temporal and PostgreSQL, the sandbox in-process.

The worker's HTTP client talks to the sandbox app through httpx's ASGI transport, so every
request takes the real HTTP client path (headers, status codes, bodies) without a socket; with
``base_url`` it reaches a sandbox served on a real loopback socket instead (timeouts and
dropped connections are real). ``expected_*`` compute what the tables must hold from the
sandbox's ground truth.

Fixtures (registered for the whole suite by tests/conftest.py): ``make_harness`` starts a
harness on the test's ``sandbox`` fixture with options, ``harness`` is one with the defaults.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.dependencies import SyncDependencies
from activities.registry import all_activities
from contracts.sync import SyncInput, SyncResult
from core.crypto import SecretBox
from core.settings import Settings, load_settings
from db import credentials
from db.database import Database
from records.contact import primary_contacts_by_customer
from records.pipeline import map_contacts, map_customers, map_invoices
from runtime.worker import build_own_queue_worker, build_worker, make_dependencies
from sandbox.app import create_app
from sandbox.state import Sandbox
from servicetitan.config import ClientConfig, EnvironmentUrls
from servicetitan.http import new_http_client
from workflows import WORKFLOWS
from workflows.sync import SyncWorkflow, workflow_id_for

SANDBOX_URL = "http://sandbox.test"
APP_KEY = "ak1.sandbox"


def sandbox_client_config(base_url: str = SANDBOX_URL, **overrides: Any) -> ClientConfig:
    """Both environments at the sandbox (in-process by default), rate limit out of the way."""
    urls = EnvironmentUrls(base_url, base_url)
    values: dict[str, Any] = {
        "app_key": APP_KEY,
        "production": urls,
        "integration": urls,
        "rate_limit_per_second": 1000.0,
    }
    values.update(overrides)
    return ClientConfig(**values)


@dataclass
class SyncHarness:
    sandbox: Sandbox
    database: Database
    database_url: str
    client: Client
    task_queue: str
    settings: Settings
    client_config: ClientConfig
    http: httpx.AsyncClient
    credential_ids: dict[int, int] = field(default_factory=dict)
    worker: Worker | None = None

    @property
    def worker_box(self) -> SecretBox:
        """The key ring the worker uses (the test's CREDENTIAL_ENCRYPTION_KEYS)."""
        return make_dependencies(self.settings, self.database, self.client_config, None).box

    def dependencies(self) -> SyncDependencies:
        """A worker's dependencies (its own page hand-off: another worker has others)."""
        return make_dependencies(
            self.settings, self.database, self.client_config, None, http=self.http
        )

    async def add_tenant(self, tenant_id: int, *, secret: str | None = None) -> int:
        """A company and a credential for a sandbox tenant; returns the credential id."""
        spec = self.sandbox.config.tenant(tenant_id)
        async with self.database.transaction() as connection:
            company = await credentials.add_company(
                connection,
                name=f"Company {tenant_id}",
                intacct_id=f"INT{tenant_id}",
                primary_trade="Plumbing",
                actor="test",
            )
            credential = await credentials.add_credential(
                connection,
                self.worker_box,
                company_id=company,
                tenant_id=str(tenant_id),
                client_id=spec.client_id,
                client_secret=secret or spec.client_secret,
                environment="production",
                actor="test",
            )
        self.credential_ids[tenant_id] = credential
        return credential

    async def start(self, credential_id: int, **options: Any) -> WorkflowHandle[Any, SyncResult]:
        return await self.client.start_workflow(
            SyncWorkflow.run,
            SyncInput(credential_id=credential_id, **options),
            id=workflow_id_for(credential_id),
            task_queue=self.task_queue,
            execution_timeout=timedelta(minutes=10),
        )

    async def sync(self, credential_id: int, **options: Any) -> SyncResult:
        handle = await self.start(credential_id, **options)
        return await handle.result()

    # --- what the database holds ------------------------------------------------------------

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql, params).fetchall()

    def scalar(self, sql: str, *params: Any) -> Any:
        rows = self.rows(sql, *params)
        return rows[0][0] if rows else None

    # --- what it must hold --------------------------------------------------------------------

    def expected_members(self, tenant_id: int) -> dict[str, tuple[Any, ...]]:
        return expected_members(self.sandbox, tenant_id)

    def expected_invoices(
        self, tenant_id: int, *, customers_known: bool = True
    ) -> dict[str, tuple[Any, ...]]:
        return expected_invoices(self.sandbox, tenant_id, customers_known=customers_known)


def expected_members(sandbox: Sandbox, tenant_id: int) -> dict[str, tuple[Any, ...]]:
    """members_stream rows (MEMBER_SQL order) a correct sync of the tenant produces."""
    customers = list(sandbox.expected_state(tenant_id, "customers").values())
    contacts = list(sandbox.expected_state(tenant_id, "contacts").values())
    mapped = map_customers(customers)
    primary = primary_contacts_by_customer(map_contacts(contacts).rows)
    result = {}
    for row in mapped.rows:
        phone, email = primary.get(row.customer_id, (None, None))
        result[row.customer_id] = (*row.as_tuple(), phone, email)
    return result


def expected_invoices(
    sandbox: Sandbox, tenant_id: int, *, customers_known: bool = True
) -> dict[str, tuple[Any, ...]]:
    """invoices_stream rows (INVOICE_SQL order). Names are split by customer type only when
    customers were synced first (an invoices-only sync falls back to the name heuristic)."""
    invoices = list(sandbox.expected_state(tenant_id, "invoices").values())
    customers = sandbox.expected_state(tenant_id, "customers") if customers_known else {}
    types = {cid: record.get("type") for cid, record in customers.items()}
    return {row.invoice_number: row.as_tuple() for row in map_invoices(invoices, types).rows}


@asynccontextmanager
async def sync_harness(
    *,
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    client: Client,
    encryption_keys: str,
    tmp_path: Path,
    run_worker: bool = True,
    client_config: ClientConfig | None = None,
    base_url: str | None = None,
    unsandboxed: bool = False,
    **settings_overrides: Any,
) -> AsyncIterator[SyncHarness]:
    """A harness whose worker (unless ``run_worker`` is false) polls a task queue of its own.

    ``base_url``: the sandbox served over a real socket (``serve_in_thread``) instead of
    in-process. ``unsandboxed`` runs the workflow code without Temporal's sandbox, so a test
    can patch module constants of ``workflows.sync`` (e.g. shrink a retry policy).
    """
    task_queue = f"sync-test-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        _env_file=None,
        database_url=database_url,
        temporal_address="127.0.0.1:7233",
        temporal_task_queue=task_queue,
        credential_encryption_keys=encryption_keys,
        data_dir=tmp_path,
        **settings_overrides,
    )
    if base_url is None:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sandbox)))
    else:
        http = new_http_client()
    config = client_config or sandbox_client_config(base_url or SANDBOX_URL)
    harness = SyncHarness(
        sandbox=sandbox,
        database=database,
        database_url=database_url,
        client=client,
        task_queue=task_queue,
        settings=settings,
        client_config=config,
        http=http,
    )
    deps = make_dependencies(settings, database, config, client, http=http)
    try:
        if not run_worker:
            yield harness
            return
        if unsandboxed:
            worker = Worker(
                client,
                task_queue=task_queue,
                workflows=WORKFLOWS,
                activities=all_activities(deps),
                workflow_runner=UnsandboxedWorkflowRunner(),
            )
        else:
            worker = build_worker(client, settings, deps, task_queue=task_queue)
        # As worker.py runs it: a stream's work follows the worker that fetched its pages.
        deps.worker_queue = f"{task_queue}.own"
        own_queue = build_own_queue_worker(client, settings, deps)
        harness.worker = worker
        async with worker, own_queue:
            yield harness
            await _terminate_leftovers(client, task_queue)
    finally:
        await http.aclose()


HarnessFactory = Callable[..., AbstractAsyncContextManager[SyncHarness]]


@pytest.fixture
def make_harness(
    sandbox: Sandbox,
    database: Database,
    database_url: str,
    temporal_client: Client,
    encryption_keys: str,
    tmp_path: Path,
) -> HarnessFactory:
    """``async with make_harness(**options) as harness``: ``sync_harness`` on this test's
    ``sandbox``, database, Temporal server and keys."""

    def make(**options: Any) -> AbstractAsyncContextManager[SyncHarness]:
        return sync_harness(
            sandbox=sandbox,
            database=database,
            database_url=database_url,
            client=temporal_client,
            encryption_keys=encryption_keys,
            tmp_path=tmp_path,
            **options,
        )

    return make


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> AsyncIterator[SyncHarness]:
    """A running worker syncing from this test's ``sandbox`` (in-process), default options."""
    async with make_harness() as running:
        yield running


async def _terminate_leftovers(client: Client, task_queue: str) -> None:
    """A failed test must not leave a running sync that blocks the next test's ids."""
    async for execution in client.list_workflows(
        f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"
    ):
        await client.get_workflow_handle(execution.id).terminate("test cleanup")


MEMBER_SQL = (
    "SELECT customer_id, customer_name, customer_type, customer_first_name, customer_last_name, "
    "customer_address, customer_city, customer_state, customer_zip, active_member, "
    "merged_to_id, do_not_mail, do_not_service, balance, source_created_at, "
    "source_modified_at, customer_phone_number_primary, customer_email "
    "FROM members_stream WHERE source_tenant_id = %s"
)
INVOICE_SQL = (
    "SELECT invoice_number, reference_number, customer_id, customer_name, customer_first_name, "
    "customer_last_name, customer_address, customer_city, customer_state, customer_zip, "
    "job_number, job_type, business_unit, invoice_date, due_date, subtotal, sales_tax, total, "
    "balance, active, source_created_at, source_modified_at "
    "FROM invoices_stream WHERE source_tenant_id = %s"
)


def _stored(database_url: str, sql: str, tenant_id: int) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(database_url) as connection:
        return {row[0]: tuple(row) for row in connection.execute(sql, (str(tenant_id),))}


def stored_members(target: SyncHarness | str, tenant_id: int) -> dict[str, tuple[Any, ...]]:
    url = target if isinstance(target, str) else target.database_url
    return _stored(url, MEMBER_SQL, tenant_id)


def stored_invoices(target: SyncHarness | str, tenant_id: int) -> dict[str, tuple[Any, ...]]:
    url = target if isinstance(target, str) else target.database_url
    return _stored(url, INVOICE_SQL, tenant_id)


def truncate_staged_pages(database_url: str) -> None:
    """Empty the staging table, as a PostgreSQL crash restart does (blocking: call it from a
    thread when the worker shares the caller's event loop)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE servicetitan_staged_pages")
