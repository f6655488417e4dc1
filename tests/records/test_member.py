"""map_customer: the members_stream columns from one export customer."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from records.member import MEMBER_COLUMNS, MemberRecord, map_customer
from servicetitan.models import CustomerMappedFields

# members_stream columns of the database contract (docs/architecture.md) that come from the
# customer record, in table order (phone and email come from the contacts export).
CONTRACT_MEMBER_COLUMNS = (
    "customer_id",
    "customer_name",
    "customer_type",
    "customer_first_name",
    "customer_last_name",
    "customer_address",
    "customer_city",
    "customer_state",
    "customer_zip",
    "active_member",
    "merged_to_id",
    "do_not_mail",
    "do_not_service",
    "balance",
    "source_created_at",
    "source_modified_at",
)


def _map(raw: dict[str, Any]) -> MemberRecord:
    return map_customer(CustomerMappedFields.model_validate(raw))


def test_columns_are_the_architecture_columns_in_table_order():
    assert MEMBER_COLUMNS == CONTRACT_MEMBER_COLUMNS
    assert MemberRecord.COLUMNS == MEMBER_COLUMNS
    assert tuple(field.name for field in dataclasses.fields(MemberRecord)) == MEMBER_COLUMNS
    assert "customer_phone_number_primary" not in MEMBER_COLUMNS


def test_a_complete_customer_maps_every_column(raw_customer):
    assert _map(raw_customer()) == MemberRecord(
        customer_id="998877",
        customer_name="Smith, John",
        customer_type="Residential",
        customer_first_name="John",
        customer_last_name="Smith",
        customer_address="1 Main St",
        customer_city="Austin",
        customer_state="TX",
        customer_zip="78701",
        active_member=True,
        merged_to_id=None,
        do_not_mail=False,
        do_not_service=True,
        balance=Decimal("12.34"),
        source_created_at=datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        source_modified_at=datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC),
    )


def test_as_tuple_follows_columns(raw_customer):
    record = _map(raw_customer())
    assert record.as_tuple() == tuple(getattr(record, column) for column in MEMBER_COLUMNS)
    assert record.key == "998877"


@pytest.mark.parametrize(
    ("customer_type", "split"),
    [("Residential", ("John", "Smith")), ("Commercial", (None, None)), (None, (None, None))],
)
def test_only_residential_names_are_split(customer_type, split, raw_customer):
    record = _map(raw_customer(type=customer_type, name="John Smith"))
    assert (record.customer_first_name, record.customer_last_name) == split
    assert record.customer_name == "John Smith"
    assert record.customer_type == customer_type


def test_an_unknown_customer_type_is_kept_and_not_split(raw_customer):
    record = _map(raw_customer(type="Government", name="John Smith"))
    assert record.customer_type == "Government"
    assert record.customer_first_name is None


def test_a_merged_customer(raw_customer):
    record = _map(raw_customer(active=False, mergedToId=112233))
    assert (record.active_member, record.merged_to_id) == (False, "112233")


def test_nulls_everywhere_map_to_nulls():
    record = _map({"id": 3})
    assert record.customer_id == "3"
    assert all(getattr(record, column) is None for column in MEMBER_COLUMNS[1:])


def test_address_state_and_zip_are_trimmed(raw_customer):
    address = {"street": "1 Main", "city": "Austin", "state": "tx ", "zip": " 78701-1234 "}
    record = _map(raw_customer(address=address))
    assert (record.customer_state, record.customer_zip) == ("tx", "78701-1234")


def test_balance_as_a_json_number(raw_customer):
    assert _map(raw_customer(balance=-1500)).balance == Decimal("-1500")
    assert str(_map(raw_customer(balance=19.99)).balance) == "19.99"
