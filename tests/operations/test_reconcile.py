"""``reconcile``: no discrepancy after a clean sync, exactly the mutations before a new one,
quarantined records accounted for, and nothing written to the record tables."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from runtime.reconcile import reconcile
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness, stored_invoices, stored_members


async def _reconcile(harness: SyncHarness, credential: int, **options):
    return await reconcile(
        harness.database,
        harness.worker_box,
        harness.client_config,
        credential,
        http=harness.http,
        **options,
    )


async def test_clean_sync_reconciles_without_discrepancy(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    before = (stored_members(harness, TENANT), stored_invoices(harness, TENANT))

    report = await _reconcile(harness, credential)

    assert report.in_sync, report.as_dict()
    for stream in report.streams:
        assert stream.api_count_all == stream.db_count_all == stream.api_records_listed
        assert stream.api_count_active == stream.db_count_active
        assert stream.sample_size > 0 and stream.sample_mismatches == []
        assert all(Decimal(s["difference"]) == 0 for s in stream.sums.values()), stream.sums
    assert (stored_members(harness, TENANT), stored_invoices(harness, TENANT)) == before


async def test_mutations_without_a_sync_are_reported_exactly(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    await harness.sync(credential)
    summary = harness.sandbox.mutate(TENANT, modify=4, add=3, deactivate=2, merge=1)

    report = await _reconcile(harness, credential)

    assert not report.in_sync
    assert report.unexplained == [], report.unexplained
    streams = {s.stream: s for s in report.streams}
    invoices, customers = streams["invoices"], streams["customers"]
    assert set(invoices.missing_changed_since_sync) == {str(i) for i in summary.invoices.added}
    assert set(invoices.changed_since_sync) == {
        str(i) for i in set(summary.invoices.modified) | set(summary.invoices.deactivated)
    }
    merged_away = {str(source) for source, _into in summary.customers.merged}
    assert (
        set(customers.changed_since_sync)
        == {str(i) for i in set(summary.customers.modified) | set(summary.customers.deactivated)}
        | merged_away
    )
    assert invoices.api_count_all - invoices.db_count_all == len(summary.invoices.added)
    assert all(s["explained"] == "true" for s in invoices.sums.values())
    assert any("modified after the last sync" in text for text in invoices.explanations)
    assert any("added after the last sync" in text for text in invoices.explanations)

    await harness.sync(credential)  # and a sync puts everything right again
    assert (await _reconcile(harness, credential)).in_sync


async def test_quarantined_records_are_accounted_for(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    injected = harness.sandbox.inject_bad_records(TENANT, "invoices")
    result = await harness.sync(credential)
    rejected = [i for i in injected if i.expect == "reject"]
    assert result.records_rejected == len(rejected) > 0
    # A record ServiceTitan lists but the sync quarantined (e.g. a bad total on a real id):
    # simulate it by quarantining an existing invoice's row.
    victim = harness.rows("SELECT invoice_number FROM invoices_stream ORDER BY id LIMIT 1")[0][0]
    with psycopg.connect(harness.database_url, autocommit=True) as connection:
        connection.execute("DELETE FROM invoices_stream WHERE invoice_number = %s", [victim])
        connection.execute(
            "INSERT INTO servicetitan_rejected_records (credential_id, company_id, stream, "
            "record_id, reason, raw) SELECT id, company_id, 'invoices', %s, 'test', '{}' "
            "FROM servicetitan_credentials",
            [victim],
        )

    report = await _reconcile(harness, credential, data_type="invoices")

    invoices = report.streams[0]
    assert invoices.missing_quarantined == [victim]
    distinct_reject_ids = harness.scalar(
        "SELECT count(DISTINCT record_id) FROM servicetitan_rejected_records "
        "WHERE stream = 'invoices' AND record_id IS NOT NULL"
    )
    assert invoices.quarantined_total == distinct_reject_ids >= len(rejected)
    assert report.unexplained == []
    assert any("quarantined" in text for text in invoices.explanations)
