"""``ContactRecord`` (one customer contact) and the primary phone/email rule.

ServiceTitan keeps phones and emails as separate contact records (``/export/customers/contacts``);
editing one does not touch the customer's ``modifiedOn``. The sync stores contacts on their own
and derives ``members_stream.customer_phone_number_primary`` / ``customer_email`` with the rule
below. The database applies it in SQL; ``primary_contacts`` is the reference implementation the
tests compare that SQL against. The equivalent SQL, per customer::

    phone = (SELECT value FROM contacts
             WHERE customer_id = :c AND active IS TRUE AND type IN ('Phone', 'MobilePhone')
               AND btrim(value) <> ''
             ORDER BY contact_id LIMIT 1)
    email = (... type = 'Email' ...)

``btrim`` in PostgreSQL trims spaces only; ``primary_contacts`` matches that, so a value made of
tabs or other whitespace counts as present in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, ClassVar, Final, NamedTuple

from records.raw import (
    Unusual,
    optional_bool,
    optional_int64,
    optional_text,
    optional_timestamp,
    record_id,
)
from servicetitan.models import ContactMappedFields, ContactType

CONTACT_COLUMNS: Final = (
    "contact_id",
    "customer_id",
    "type",
    "value",
    "active",
    "source_modified_at",
)

PHONE_TYPES: Final = frozenset({ContactType.PHONE.value, ContactType.MOBILE_PHONE.value})
EMAIL_TYPES: Final = frozenset({ContactType.EMAIL.value})


@dataclass(slots=True)
class ContactRecord:
    """One customer contact: a phone number, mobile number, email or fax.

    ``contact_id`` stays an integer because "lowest contact id" must compare numerically
    (as text, "10" < "9"); ``customer_id`` is text to join ``members_stream.customer_id``.
    ``customer_id`` is ``None`` only before validation, which rejects such a contact.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = CONTACT_COLUMNS

    contact_id: int
    customer_id: str | None
    type: str | None
    value: str | None
    active: bool | None
    source_modified_at: datetime | None

    @property
    def key(self) -> int:
        """The natural key within one tenant."""
        return self.contact_id

    def as_tuple(self) -> tuple[object, ...]:
        """The values in ``COLUMNS`` order, for ``copy.write_row``."""
        values: tuple[object, ...] = _contact_values(self)
        return values


_contact_values = attrgetter(*CONTACT_COLUMNS)


class PrimaryContacts(NamedTuple):
    """A customer's primary phone number and email (either may be missing)."""

    phone: str | None
    email: str | None


def map_contact(contact: ContactMappedFields) -> ContactRecord:
    """Map one validated export contact (``ContactMappedFields``) to its row.

    Values are kept as sent.
    """
    return _contact_record(
        contact.id,
        contact.customer_id,
        contact.type,
        contact.value,
        contact.active,
        contact.modified_on,
    )


def map_raw_contact(raw: dict[str, Any]) -> ContactRecord | None:
    """The fast path of ``map_contact`` (see ``records.raw``): the row, or ``None``."""
    try:
        get = raw.get
        return _contact_record(
            record_id(get("id")),
            optional_int64(get("customerId")),
            optional_text(get("type")),
            optional_text(get("value")),
            optional_bool(get("active")),
            optional_timestamp(get("modifiedOn")),
        )
    except Unusual:
        return None


def _contact_record(
    contact_id: int,
    customer_id: int | None,
    contact_type: str | None,
    value: str | None,
    active: bool | None,
    modified_on: datetime | None,
) -> ContactRecord:
    return ContactRecord(
        contact_id=contact_id,
        customer_id=str(customer_id) if customer_id is not None else None,
        type=contact_type,
        value=value,
        active=active,
        source_modified_at=modified_on,
    )


def primary_contacts(contacts: Iterable[ContactRecord]) -> PrimaryContacts:
    """The primary phone and email among one customer's contacts.

    phone = ``value`` of the active ``Phone``/``MobilePhone`` contact with the lowest contact id;
    email = ``value`` of the active ``Email`` contact with the lowest contact id. "Active" means
    ``active is True`` (unknown is not active, as in SQL); contacts whose value is null or only
    spaces are skipped; ``Fax`` and unknown types never count. Contact ids are unique, so there
    are no ties.
    """
    phone: ContactRecord | None = None
    email: ContactRecord | None = None
    for contact in contacts:
        if contact.active is not True or contact.value is None or not contact.value.strip(" "):
            continue
        if contact.type in PHONE_TYPES:
            if phone is None or contact.contact_id < phone.contact_id:
                phone = contact
        elif contact.type in EMAIL_TYPES and (
            email is None or contact.contact_id < email.contact_id
        ):
            email = contact
    return PrimaryContacts(
        phone=phone.value if phone is not None else None,
        email=email.value if email is not None else None,
    )


def primary_contacts_by_customer(contacts: Iterable[ContactRecord]) -> dict[str, PrimaryContacts]:
    """``primary_contacts`` for every customer that has at least one contact."""
    by_customer: dict[str, list[ContactRecord]] = {}
    for contact in contacts:
        if contact.customer_id is not None:
            by_customer.setdefault(contact.customer_id, []).append(contact)
    return {customer: primary_contacts(group) for customer, group in by_customer.items()}
