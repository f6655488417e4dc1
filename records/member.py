"""``MemberRecord``: the ``members_stream`` columns that come from one ServiceTitan customer.

Phone and email are not on the customer record; they come from the customer-contacts export
(``records.contact``), and the database fills ``customer_phone_number_primary`` and
``customer_email`` from there with the rule ``records.contact.primary_contacts`` implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar, Final

from records.contact import (
    CONTACT_COLUMNS,
    ContactRecord,
    PrimaryContacts,
    map_contact,
    map_raw_contact,
    primary_contacts,
    primary_contacts_by_customer,
)
from records.names import process_customer_names
from records.raw import (
    Unusual,
    optional_bool,
    optional_float,
    optional_int64,
    optional_money,
    optional_object,
    optional_text,
    optional_timestamp,
    record_id,
)
from records.text import clean_code
from servicetitan.models import CustomerMappedFields

__all__ = [
    "CONTACT_COLUMNS",
    "MEMBER_COLUMNS",
    "ContactRecord",
    "MemberRecord",
    "PrimaryContacts",
    "map_contact",
    "map_customer",
    "map_raw_contact",
    "map_raw_customer",
    "primary_contacts",
    "primary_contacts_by_customer",
]

MEMBER_COLUMNS: Final = (
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


@dataclass(slots=True)
class MemberRecord:
    """One ``members_stream`` row, as far as the customer record determines it.

    Treat as immutable (not frozen for speed, as ``InvoiceRecord``). Ids are text, like the
    table's natural key columns.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = MEMBER_COLUMNS

    customer_id: str
    customer_name: str | None
    customer_type: str | None
    customer_first_name: str | None
    customer_last_name: str | None
    customer_address: str | None
    customer_city: str | None
    customer_state: str | None
    customer_zip: str | None
    active_member: bool | None
    merged_to_id: str | None
    do_not_mail: bool | None
    do_not_service: bool | None
    balance: Decimal | None
    source_created_at: datetime | None
    source_modified_at: datetime | None

    @property
    def key(self) -> str:
        """The natural key within one tenant."""
        return self.customer_id

    def as_tuple(self) -> tuple[object, ...]:
        """The values in ``COLUMNS`` order, for ``copy.write_row``."""
        values: tuple[object, ...] = _member_values(self)
        return values


_member_values = attrgetter(*MEMBER_COLUMNS)


def map_customer(customer: CustomerMappedFields) -> MemberRecord:
    """Map one validated export customer (``CustomerMappedFields``) to its row.

    The name is split only for residential customers (``process_customer_names``); the
    customer type is kept as sent, including values ServiceTitan adds later.
    """
    address = customer.address
    return _member_record(
        customer.id,
        customer.name,
        customer.type,
        address.street if address is not None else None,
        address.city if address is not None else None,
        address.state if address is not None else None,
        address.zip if address is not None else None,
        customer.active,
        customer.merged_to_id,
        customer.do_not_mail,
        customer.do_not_service,
        customer.balance,
        customer.created_on,
        customer.modified_on,
    )


def map_raw_customer(raw: dict[str, Any]) -> MemberRecord | None:
    """The fast path of ``map_customer`` (see ``records.raw``): the row, or ``None``."""
    try:
        get = raw.get
        address = optional_object(get("address"))
        street = city = state = zip_code = None
        if address is not None:
            street = optional_text(address.get("street"))
            optional_text(address.get("unit"))
            city = optional_text(address.get("city"))
            state = optional_text(address.get("state"))
            zip_code = optional_text(address.get("zip"))
            optional_text(address.get("country"))
            optional_float(address.get("latitude"))
            optional_float(address.get("longitude"))
        return _member_record(
            record_id(get("id")),
            optional_text(get("name")),
            optional_text(get("type")),
            street,
            city,
            state,
            zip_code,
            optional_bool(get("active")),
            optional_int64(get("mergedToId")),
            optional_bool(get("doNotMail")),
            optional_bool(get("doNotService")),
            optional_money(get("balance")),
            optional_timestamp(get("createdOn")),
            optional_timestamp(get("modifiedOn")),
        )
    except Unusual:
        return None


def _member_record(
    customer_id: int,
    name: str | None,
    customer_type: str | None,
    street: str | None,
    city: str | None,
    state: str | None,
    zip_code: str | None,
    active: bool | None,
    merged_to_id: int | None,
    do_not_mail: bool | None,
    do_not_service: bool | None,
    balance: Decimal | None,
    created_on: datetime | None,
    modified_on: datetime | None,
) -> MemberRecord:
    """The mapping rules, shared by both paths."""
    first_name, last_name = process_customer_names(name, customer_type)
    return MemberRecord(
        customer_id=str(customer_id),
        customer_name=name,
        customer_type=customer_type,
        customer_first_name=first_name,
        customer_last_name=last_name,
        customer_address=street,
        customer_city=city,
        customer_state=clean_code(state),
        customer_zip=clean_code(zip_code),
        active_member=active,
        merged_to_id=str(merged_to_id) if merged_to_id is not None else None,
        do_not_mail=do_not_mail,
        do_not_service=do_not_service,
        balance=balance,
        source_created_at=created_on,
        source_modified_at=modified_on,
    )
