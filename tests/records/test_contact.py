"""map_contact and the primary phone/email rule (the reference for the database's SQL)."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

import pytest

from records.contact import (
    CONTACT_COLUMNS,
    ContactRecord,
    PrimaryContacts,
    map_contact,
    primary_contacts,
    primary_contacts_by_customer,
)
from records.member import ContactRecord as ContactRecordFromMember
from servicetitan.models import ContactMappedFields


def contact(
    contact_id: int,
    kind: str | None,
    value: str | None = None,
    *,
    active: bool | None = True,
    customer_id: str | None = "1",
) -> ContactRecord:
    return ContactRecord(
        contact_id=contact_id,
        customer_id=customer_id,
        type=kind,
        value=value if value is not None else f"{kind}-{contact_id}",
        active=active,
        source_modified_at=None,
    )


def test_columns_and_tuple():
    assert CONTACT_COLUMNS == ("contact_id", "customer_id", "type", "value", "active",
                               "source_modified_at")  # fmt: skip
    assert tuple(field.name for field in dataclasses.fields(ContactRecord)) == CONTACT_COLUMNS
    record = contact(5, "Email")
    assert record.as_tuple() == (5, "1", "Email", "Email-5", True, None)
    assert record.key == 5


def test_member_module_re_exports_the_contact_record():
    assert ContactRecordFromMember is ContactRecord


def test_map_contact(raw_contact):
    record = map_contact(ContactMappedFields.model_validate(raw_contact()))
    assert record == ContactRecord(
        contact_id=5550001,
        customer_id="998877",
        type="MobilePhone",
        value="5125550100",
        active=True,
        source_modified_at=datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC),
    )


def test_map_contact_keeps_unknown_types_and_nulls():
    record = map_contact(ContactMappedFields.model_validate({"id": 9, "type": "Pager"}))
    assert (record.type, record.value, record.customer_id, record.active) == (
        "Pager",
        None,
        None,
        None,
    )


def test_lowest_active_ids_win():
    contacts = [
        contact(30, "Phone"),
        contact(20, "Email"),
        contact(10, "Phone"),
        contact(40, "Email"),
    ]
    assert primary_contacts(contacts) == PrimaryContacts(phone="Phone-10", email="Email-20")


def test_an_inactive_lower_id_is_ignored():
    contacts = [
        contact(1, "Phone", active=False),
        contact(2, "Phone"),
        contact(3, "Email", active=None),
    ]
    assert primary_contacts(contacts) == PrimaryContacts(phone="Phone-2", email=None)


def test_mobile_phone_counts_as_phone():
    contacts = [contact(8, "Phone"), contact(7, "MobilePhone")]
    assert primary_contacts(contacts).phone == "MobilePhone-7"


@pytest.mark.parametrize("kind", ["Fax", "Pager", None, "phone", "EMAIL"])
def test_other_types_never_count(kind):
    assert primary_contacts([contact(1, kind)]) == PrimaryContacts(None, None)


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_values_are_skipped(blank):
    contacts = [contact(1, "Email", blank), contact(2, "Email", "a@example.com")]
    assert primary_contacts(contacts).email == "a@example.com"


def test_values_are_returned_as_stored():
    assert primary_contacts([contact(1, "Phone", " (512) 555-0100 ")]).phone == " (512) 555-0100 "


def test_no_contacts():
    assert primary_contacts([]) == PrimaryContacts(None, None)


def test_order_of_arrival_does_not_matter():
    contacts = [
        contact(i, random.Random(i).choice(["Phone", "Email", "Fax"])) for i in range(1, 60)
    ]
    expected = primary_contacts(contacts)
    for seed in range(5):
        shuffled = contacts[:]
        random.Random(seed).shuffle(shuffled)
        assert primary_contacts(shuffled) == expected


def test_by_customer():
    contacts = [
        contact(5, "Phone", customer_id="1"),
        contact(3, "Email", customer_id="2"),
        contact(4, "Phone", customer_id="2"),
        contact(1, "Fax", customer_id="3"),
        contact(2, "Phone", customer_id=None),
    ]
    assert primary_contacts_by_customer(contacts) == {
        "1": PrimaryContacts("Phone-5", None),
        "2": PrimaryContacts("Phone-4", "Email-3"),
        "3": PrimaryContacts(None, None),
    }
