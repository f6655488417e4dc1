"""The apply's combined bookkeeping statements do exactly what the separate ones do.

``page_to_apply`` reads what ``load_page``, ``credential_context`` and ``run_owner`` read;
``record_page_progress`` writes what ``advance_cursor`` and ``record_progress`` write and
answers what ``sync_allowed`` answers. Two runs side by side, one bookkept each way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.crypto import SecretBox
from db import credentials, sync_runs
from db.database import Database

ACTOR = "test"


async def _run(
    connection: AsyncConnection, box: SecretBox, tag: str
) -> tuple[int, sync_runs.StartedRun, int]:
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
    context = await sync_runs.credential_context(connection, credential)
    run = await sync_runs.start_run(
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
    page_id = await sync_runs.stage_page(
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


async def _state(connection: AsyncConnection, credential: int, run: sync_runs.StartedRun) -> Any:
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


async def test_combined_bookkeeping_matches_the_separate_statements(
    database: Database, secret_box: SecretBox
) -> None:
    high_water = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    async with database.transaction() as connection:
        old_credential, old_run, old_page = await _run(connection, secret_box, "old")
        new_credential, new_run, new_page = await _run(connection, secret_box, "new")
        # Each run has one page applied already, so "so far" counts earlier pages too.
        for page in (old_page, new_page):
            await connection.execute(
                text("UPDATE servicetitan_staged_pages SET applied_at = now() WHERE id = :p"),
                {"p": page},
            )
        for credential, run in ((old_credential, old_run), (new_credential, new_run)):
            await sync_runs.stage_page(
                connection,
                credential_id=credential,
                sync_log_id=run.sync_log_id,
                stream="customers",
                cursor_in="token-1",
                cursor_out="token-2",
                has_more=False,
                record_count=300,
                body=b"body",
            )
        for pages, (processed, rejected) in enumerate(((695, 5), (298, 2)), start=1):
            cursor = f"token-{pages}"
            await sync_runs.advance_cursor(
                connection,
                credential_id=old_credential,
                stream="customers",
                continue_from=cursor,
                high_water=high_water,
                records=processed,
                sync_log_id=old_run.sync_log_id,
            )
            await sync_runs.record_progress(
                connection,
                sync_log_id=old_run.sync_log_id,
                import_job_id=old_run.import_job_id,
                stream="customers",
                processed=processed,
                rejected=rejected,
                expected_total=1200,
            )
            allowed_old = await sync_runs.sync_allowed(connection, old_credential, globally=True)
            allowed_new = await sync_runs.record_page_progress(
                connection,
                credential_id=new_credential,
                sync_log_id=new_run.sync_log_id,
                import_job_id=new_run.import_job_id,
                stream="customers",
                continue_from=cursor,
                high_water=high_water,
                processed=processed,
                rejected=rejected,
                expected_total=1200,
                globally=True,
            )
            assert allowed_new == allowed_old == (True, None)
            old_state = await _state(connection, old_credential, old_run)
            new_state = await _state(connection, new_credential, new_run)
            assert new_state == old_state
        assert old_state.progress_text == "Synced 1000 customers records so far"
        assert old_state.pages_applied == 2 and old_state.records_applied == 993

        # The kill switches answer the same, with their reasons.
        for credential in (old_credential, new_credential):
            await credentials.set_sync_enabled(
                connection, credential_id=credential, enabled=False, reason="audit", actor=ACTOR
            )
        answer = await sync_runs.record_page_progress(
            connection,
            credential_id=new_credential,
            sync_log_id=new_run.sync_log_id,
            import_job_id=new_run.import_job_id,
            stream="customers",
            continue_from="token-3",
            high_water=None,
            processed=1,
            rejected=0,
            expected_total=None,
            globally=True,
        )
        assert answer == await sync_runs.sync_allowed(connection, old_credential, globally=True)
        assert answer == (False, "the credential is disabled: audit")
        # ...and the statement still recorded the page (a page boundary, not a rollback).
        state = await _state(connection, new_credential, new_run)
        assert state.continue_from == "token-3" and state.pages_applied == 3
        assert (await sync_runs.sync_allowed(connection, old_credential, globally=False))[
            0
        ] is False


async def test_page_to_apply_reads_what_the_three_reads_read(
    database: Database, secret_box: SecretBox
) -> None:
    async with database.transaction() as connection:
        credential, run, page_id = await _run(connection, secret_box, "read")
        loaded = await sync_runs.page_to_apply(
            connection,
            page_id,
            credential_id=credential,
            sync_log_id=run.sync_log_id,
            with_body=True,
        )
        assert loaded is not None
        assert loaded.page == await sync_runs.load_page(connection, page_id)
        assert loaded.page.body == b"body" and not loaded.page.applied
        assert loaded.credential == await sync_runs.credential_context(connection, credential)
        assert loaded.owner == await sync_runs.run_owner(connection, run.sync_log_id)
        assert loaded.owner is not None and loaded.owner.import_job_id == run.import_job_id

        without_body = await sync_runs.page_to_apply(
            connection,
            page_id,
            credential_id=credential,
            sync_log_id=run.sync_log_id,
            with_body=False,
        )
        assert without_body is not None and without_body.page.body is None

        # Unknown credential or run: the page is still read, the missing part is None.
        stray = await sync_runs.page_to_apply(
            connection, page_id, credential_id=999_999, sync_log_id=999_999, with_body=False
        )
        assert stray is not None and stray.credential is None and stray.owner is None
        gone = await sync_runs.page_to_apply(
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
        context = await sync_runs.credential_context(connection, credential)
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
        types = await sync_runs.customer_types(
            connection, context.company_id, context.tenant_id, ["1", "2", "3", "4", "5", "x"]
        )
        assert types == {1: "Residential", 2: "Commercial", 3: None}
        assert await sync_runs.customer_types(connection, context.company_id, "1234", []) == {}
