"""The apply's bookkeeping statements: what they read, write and answer.

``page_to_apply`` reads a staged page (locked), its credential and its run's owner in one
statement; ``record_page_progress`` moves the stream's cursor, the run's totals and the import
job's progress in one statement, and answers the kill switches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.crypto import SecretBox
from db import credentials, members, progress, runs, staging
from db.database import Database

ACTOR = "test"


async def _run(
    connection: AsyncConnection, box: SecretBox, tag: str
) -> tuple[int, runs.StartedRun, int]:
    """A company, a credential, a started run and one staged customers page."""
    company = await credentials.add_company(
        connection, name=f"Co {tag}", intacct_id=f"ACCT-{tag}", primary_trade="HVAC", actor=ACTOR
    )
    credential = await credentials.add_credential(
        connection,
        box,
        company_id=company,
        tenant_id="1234",
        client_id="cid",
        client_secret="secret",
        environment="integration",
        actor=ACTOR,
    )
    context = await credentials.credential_context(connection, credential)
    run = await runs.start_run(
        connection,
        context,
        streams=("customers",),
        sync_type="manual",
        data_type="customers",
        mode="full",
        from_date=None,
        workflow_id=f"wf-{tag}",
        run_id=f"run-{tag}",
        actor=ACTOR,
    )
    page_id = await staging.stage_page(
        connection,
        credential_id=credential,
        sync_log_id=run.sync_log_id,
        stream="customers",
        cursor_in=None,
        cursor_out="token-1",
        has_more=True,
        record_count=700,
        body=b"body",
    )
    return credential, run, page_id


async def _state(connection: AsyncConnection, credential: int, run: runs.StartedRun) -> Any:
    """Everything the bookkeeping writes, without ids and clocks."""
    return (
        await connection.execute(
            text(
                "SELECT s.continue_from, s.high_water_modified_on, s.pages_applied, "
                "s.records_applied, s.last_sync_log_id = l.id, l.records_processed, "
                "l.records_rejected, j.progress_text, j.progress_percent "
                "FROM servicetitan_sync_state s, servicetitan_sync_logs l, "
                "company_data_import_jobs j WHERE s.credential_id = :c AND s.stream = 'customers' "
                "AND l.id = :l AND j.id = :j"
            ),
            {"c": credential, "l": run.sync_log_id, "j": run.import_job_id},
        )
    ).one()


async def test_page_progress_moves_cursor_totals_and_import_job_and_answers_the_switches(
    database: Database, secret_box: SecretBox
) -> None:
    high_water = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    async with database.transaction() as connection:
        credential, run, page = await _run(connection, secret_box, "progress")
        # One page of 700 records is applied already, so "so far" counts it too.
        await connection.execute(
            text("UPDATE servicetitan_staged_pages SET applied_at = now() WHERE id = :p"),
            {"p": page},
        )

        async def record(
            cursor: str, stamp: datetime | None, processed: int, rejected: int
        ) -> tuple[bool, str | None]:
            return await progress.record_page_progress(
                connection,
                credential_id=credential,
                sync_log_id=run.sync_log_id,
                import_job_id=run.import_job_id,
                stream="customers",
                continue_from=cursor,
                high_water=stamp,
                processed=processed,
                rejected=rejected,
                expected_total=1200,
                globally=True,
            )

        assert await record("token-2", high_water, 695, 5) == (True, None)
        assert tuple(await _state(connection, credential, run)) == (
            "token-2",
            high_water,
            1,
            695,
            True,
            695,
            5,
            "Synced 1400 customers records so far",
            Decimal("99.00"),  # more than expected: 99 % until the run is finished
        )
        # An older modifiedOn never lowers the high-water mark.
        assert await record("token-3", high_water - timedelta(days=1), 298, 2) == (True, None)
        assert tuple(await _state(connection, credential, run)) == (
            "token-3",
            high_water,
            2,
            993,
            True,
            993,
            7,
            "Synced 1000 customers records so far",  # 700 applied + this page's 300
            Decimal("83.33"),
        )

        # The kill switches answer with their reasons, and the page is still recorded.
        await credentials.set_sync_enabled(
            connection, credential_id=credential, enabled=False, reason="audit", actor=ACTOR
        )
        assert await record("token-4", None, 1, 0) == (False, "the credential is disabled: audit")
        state = await _state(connection, credential, run)
        assert state.continue_from == "token-4" and state.pages_applied == 3
        assert await progress.sync_allowed(connection, credential, globally=True) == (
            False,
            "the credential is disabled: audit",
        )
        assert (await progress.sync_allowed(connection, credential, globally=False))[0] is False


async def test_page_to_apply_reads_the_page_its_credential_and_its_runs_owner(
    database: Database, secret_box: SecretBox
) -> None:
    async with database.transaction() as connection:
        credential, run, page_id = await _run(connection, secret_box, "read")
        loaded = await staging.page_to_apply(
            connection,
            page_id,
            credential_id=credential,
            sync_log_id=run.sync_log_id,
            with_body=True,
        )
        assert loaded is not None
        assert loaded.page == staging.StagedPageRow(
            page_id=page_id,
            credential_id=credential,
            sync_log_id=run.sync_log_id,
            stream="customers",
            cursor_in="",
            cursor_out="token-1",
            has_more=True,
            record_count=700,
            body=b"body",
            applied=False,
            result=None,
        )
        context = loaded.credential
        assert context is not None
        assert (context.credential_id, context.intacct_id, context.primary_trade) == (
            credential,
            "ACCT-read",
            "HVAC",
        )
        assert (context.tenant_id, context.environment) == ("1234", "integration")
        assert loaded.owner == runs.RunOwner(credential, context.company_id, run.import_job_id)

        without_body = await staging.page_to_apply(
            connection,
            page_id,
            credential_id=credential,
            sync_log_id=run.sync_log_id,
            with_body=False,
        )
        assert without_body is not None and without_body.page.body is None

        # Unknown credential or run: the page is still read, the missing part is None.
        stray = await staging.page_to_apply(
            connection, page_id, credential_id=999_999, sync_log_id=999_999, with_body=False
        )
        assert stray is not None and stray.credential is None and stray.owner is None
        gone = await staging.page_to_apply(
            connection,
            999_999,
            credential_id=credential,
            sync_log_id=run.sync_log_id,
            with_body=False,
        )
        assert gone is None


async def test_customer_types_of_the_tenants_members_only(
    database: Database, secret_box: SecretBox
) -> None:
    async with database.transaction() as connection:
        credential, _run_started, _page = await _run(connection, secret_box, "types")
        context = await credentials.credential_context(connection, credential)
        for tenant, customer, kind in (
            (context.tenant_id, "1", "Residential"),
            (context.tenant_id, "2", "Commercial"),
            (context.tenant_id, "3", None),
            ("9999", "4", "Residential"),  # another tenant of the same company
        ):
            await connection.execute(
                text(
                    "INSERT INTO members_stream (company_id, tenant, trade, source_tenant_id, "
                    "customer_id, customer_type) VALUES (:c, 'T', 'HVAC', :t, :id, :kind)"
                ),
                {"c": context.company_id, "t": tenant, "id": customer, "kind": kind},
            )
        types = await members.customer_types(
            connection, context.company_id, context.tenant_id, ["1", "2", "3", "4", "5", "x"]
        )
        assert types == {1: "Residential", 2: "Commercial", 3: None}
        assert await members.customer_types(connection, context.company_id, "1234", []) == {}
