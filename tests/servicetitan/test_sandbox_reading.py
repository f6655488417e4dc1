"""Reading against the in-process sandbox: export feeds, paged lists, counts, typed records."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import pytest

from sandbox import Sandbox
from sandbox.generate import Kind
from servicetitan.errors import BadRequest
from servicetitan.models import RecordProblem, ServiceTitanModel, parse_record
from servicetitan.pages import ExportPage, ExportStream, ListResource
from tests.records.export_models import ExportCustomer, ExportCustomerContact, ExportInvoice
from tests.servicetitan.conftest import TENANT, ClientFactory

KIND: dict[ExportStream, Kind] = {
    ExportStream.INVOICES: "invoices",
    ExportStream.CUSTOMERS: "customers",
    ExportStream.CUSTOMER_CONTACTS: "contacts",
}


M = TypeVar("M", bound=ServiceTitanModel)

FULL_MODEL: dict[ExportStream, type[ExportInvoice | ExportCustomer | ExportCustomerContact]] = {
    ExportStream.INVOICES: ExportInvoice,
    ExportStream.CUSTOMERS: ExportCustomer,
    ExportStream.CUSTOMER_CONTACTS: ExportCustomerContact,
}


@dataclass(frozen=True)
class Rejected:
    """A record the model refused: its problem and its raw data."""

    problem: RecordProblem
    raw: Any


def parse_all(model: type[M], raw_records: Iterable[Any]) -> tuple[list[M], list[Rejected]]:
    """Every record through the full model, one at a time: (parsed, rejected)."""
    parsed: list[M] = []
    rejected: list[Rejected] = []
    for raw in raw_records:
        result = parse_record(model, raw)
        if isinstance(result, RecordProblem):
            rejected.append(Rejected(result, raw))
        else:
            parsed.append(result)
    return parsed, rejected


async def _all_pages(client, stream: ExportStream, from_=None) -> list[ExportPage]:
    return [page async for page in client.export_pages(stream, from_)]


@pytest.mark.parametrize("stream", list(ExportStream))
async def test_full_export_paging(
    sandbox: Sandbox, make_client: ClientFactory, stream: ExportStream
) -> None:
    sandbox.mutate(TENANT, deactivate=5, kinds=("customers", "invoices"))
    client = make_client()
    pages = await _all_pages(client, stream)
    expected = [r["id"] for r in sandbox.records(TENANT, KIND[stream])]

    assert len(pages) >= 2
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]
    ids = [r["id"] for p in pages for r in p.records()]
    assert ids == expected  # every record, inactive ones included, in feed order
    assert sum(p.record_count for p in pages) == len(expected)
    # Each request continued from the previous page's token; nothing was fetched twice.
    assert pages[0].requested_from is None
    for before, after in itertools.pairwise(pages):
        assert after.requested_from == before.continue_from
    assert sandbox.counters.refetched(TENANT) == {}
    # The raw bytes are what was served, byte for byte: they decode to the same records.
    for page in pages:
        assert orjson.loads(page.raw)["data"] == page.records()


async def test_export_resumes_from_a_token_and_from_a_date(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    pages = await _all_pages(client, ExportStream.INVOICES)
    resumed = await client.fetch_export_page(ExportStream.INVOICES, pages[1].continue_from)
    assert resumed.raw == pages[2].raw

    # Caught up: the last token gives an empty page that says "nothing more".
    tail = await client.fetch_export_page(ExportStream.INVOICES, pages[-1].continue_from)
    assert (tail.record_count, tail.has_more) == (0, False)

    # New changes after the last token appear on the next poll.
    changed = sandbox.mutate(TENANT, modify=3, kinds=("invoices",))
    fresh = await client.fetch_export_page(ExportStream.INVOICES, pages[-1].continue_from)
    assert {r["id"] for r in fresh.records()} == set(changed.invoices.modified)

    # A date as ``from`` starts at that modification time (datetime objects are formatted).
    assert changed.first_modified_on is not None
    start = datetime.fromisoformat(changed.first_modified_on)
    by_date = await client.fetch_export_page(ExportStream.INVOICES, start)
    assert by_date.requested_from is not None
    assert by_date.requested_from.endswith("Z")
    assert {r["id"] for r in by_date.records()} == set(changed.invoices.modified)


async def test_unusable_from_is_a_bad_request_with_problem_details(
    make_client: ClientFactory,
) -> None:
    with pytest.raises(BadRequest) as caught:
        await make_client().fetch_export_page(ExportStream.CUSTOMERS, "not a token or date")
    error = caught.value
    assert not error.retryable
    assert error.problem is not None
    assert error.problem.status == 400
    assert "from" in error.problem.errors
    assert error.problem.trace_id
    assert "from: The value is neither a continuation token nor a date" in str(error)


@pytest.mark.parametrize(
    ("resource", "kind"),
    [(ListResource.CUSTOMERS, "customers"), (ListResource.INVOICES, "invoices")],
)
async def test_list_paging_includes_inactive_records(
    sandbox: Sandbox, make_client: ClientFactory, resource: ListResource, kind: Kind
) -> None:
    sandbox.mutate(TENANT, deactivate=7, kinds=(kind,))
    client = make_client(rate_limit_per_second=500)
    pages = [p async for p in client.list_pages(resource, page_size=70, include_total=True)]
    current = {r["id"]: r for r in sandbox.records(TENANT, kind)}  # last version wins
    everything = set(current)
    active = {i for i, r in current.items() if r["active"]}
    assert 7 <= len(everything) - len(active) < len(everything)

    assert [p.page for p in pages] == list(range(1, len(pages) + 1))
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]
    assert all(p.record_count == 70 for p in pages[:-1])
    ids = [r["id"] for p in pages for r in p.records()]
    assert len(ids) == len(set(ids))
    assert set(ids) == everything
    assert pages[0].total_count == len(everything)

    # The defaults of the real API hide deactivated records; include_inactive=False shows that.
    active_only = [
        r["id"]
        async for p in client.list_pages(resource, page_size=500, include_inactive=False)
        for r in p.records()
    ]
    assert set(active_only) == active


async def test_counts_for_progress_bars(sandbox: Sandbox, make_client: ClientFactory) -> None:
    client = make_client()
    counts = sandbox.counts(TENANT)
    assert await client.count(ListResource.CUSTOMERS) == counts["customers"]
    assert await client.count(ListResource.INVOICES) == counts["invoices"]
    # The contacts list has no active filter and lists active contacts only.
    active_contacts = sum(1 for r in sandbox.records(TENANT, "contacts") if r["active"])
    assert 0 < active_contacts < counts["contacts"]
    assert await client.count(ListResource.CUSTOMER_CONTACTS) == active_contacts
    # Cheap: one request each, one record each.
    assert sandbox.counters.requests["customers"] == 1
    assert all(n <= 1 for (_, endpoint), n in sandbox.counters.records_served.items())

    changed = sandbox.mutate(TENANT, modify=4, add=2, kinds=("customers",))
    since = changed.first_modified_on
    assert await client.count(ListResource.CUSTOMERS, modified_on_or_after=since) == 6


async def test_money_and_timestamps_are_parsed(make_client: ClientFactory) -> None:
    client = make_client()
    page = await client.fetch_export_page(ExportStream.INVOICES)
    invoices, rejected = parse_all(ExportInvoice, page.records())
    assert rejected == []
    assert len(invoices) == page.record_count

    seven_digits = re.compile(r"\.(\d{7})Z$")
    checked_money = checked_time = 0
    for raw, invoice in zip(page.records(), invoices, strict=True):
        assert invoice.id == raw["id"]
        if isinstance(raw.get("total"), str):
            assert isinstance(invoice.total, Decimal)
            assert invoice.total == Decimal(raw["total"])
            assert str(invoice.total) == raw["total"]  # "12.30" stays "12.30"
            checked_money += 1
        match = seven_digits.search(raw.get("modifiedOn") or "")
        if match:
            assert invoice.modified_on is not None
            assert invoice.modified_on.tzinfo is not None
            assert invoice.modified_on.microsecond == int(match.group(1)[:6])
            checked_time += 1
    assert checked_money > 0
    assert checked_time > 0

    customers = await client.fetch_export_page(ExportStream.CUSTOMERS)
    typed, rejected = parse_all(ExportCustomer, customers.records())
    assert rejected == []
    assert all(isinstance(c.balance, Decimal) for c in typed if c.balance is not None)


@pytest.mark.parametrize("kind", ["invoices", "customers", "contacts"])
async def test_malformed_records_are_reported_and_the_page_kept(
    sandbox: Sandbox, make_client: ClientFactory, kind: Kind
) -> None:
    injected = sandbox.inject_bad_records(TENANT, kind)
    stream = {v: k for k, v in KIND.items()}[kind]
    client = make_client()
    pages = await _all_pages(client, stream)

    received = 0
    parsed_ids: set[int] = set()
    rejected: list[Rejected] = []
    for page in pages:
        parsed, refused = parse_all(FULL_MODEL[stream], page.records())
        assert len(parsed) + len(refused) == page.record_count
        received += page.record_count
        parsed_ids.update(record.id for record in parsed)
        rejected.extend(refused)
    served = list(sandbox.records(TENANT, kind))
    assert received == len(served)
    # Every good record survived its page.
    injected_ids = {r.id for r in injected if r.expect in ("reject", "warn")}
    good = {r["id"] for r in served if isinstance(r.get("id"), int)} - injected_ids
    assert good <= parsed_ids

    # The model rejects what breaks its contract; the records mapping (records/) judges the
    # rest (absurd values, NUL, surrogates) on what it stores.
    rejected_ids = {r.problem.record_id for r in rejected}
    structural = {"wrong_type_field", "unparsable_date", "unparsable_modified_on"}
    for record in injected:
        if record.case in structural:
            assert str(record.id) in rejected_ids, record.case
        if record.case in ("unknown_enum", "huge_string", "duplicate_in_page"):
            assert str(record.id) not in rejected_ids, record.case
    assert None in rejected_ids  # missing_id: no id to show, still reported
    assert any(i and i.startswith("ST-") for i in rejected_ids)  # wrong_type_id
    assert all(reject.problem.reason for reject in rejected)
    reasons = " | ".join(r.problem.reason for r in rejected)
    assert "id: required" in reasons
    assert "modifiedOn: not a timestamp ('yesterday')" in reasons
