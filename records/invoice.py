"""``InvoiceRecord``: the ``invoices_stream`` columns that come from one ServiceTitan invoice.

The database layer adds the columns that come from the credential (company_id, tenant, trade,
software, hub_plus_import_id, source_tenant_id) and COPYs ``as_tuple()`` in ``COLUMNS`` order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar, Final

from records.names import split_invoice_customer_name
from records.no_date import business_date
from records.raw import (
    Unusual,
    optional_bool,
    optional_int64,
    optional_money,
    optional_object,
    optional_text,
    optional_timestamp,
    record_id,
)
from records.text import clean_code
from servicetitan.models import InvoiceMappedFields

INVOICE_COLUMNS: Final = (
    "invoice_number",
    "reference_number",
    "customer_id",
    "customer_name",
    "customer_first_name",
    "customer_last_name",
    "customer_address",
    "customer_city",
    "customer_state",
    "customer_zip",
    "job_number",
    "job_type",
    "business_unit",
    "invoice_date",
    "due_date",
    "subtotal",
    "sales_tax",
    "total",
    "balance",
    "active",
    "source_created_at",
    "source_modified_at",
)


@dataclass(slots=True)
class InvoiceRecord:
    """One ``invoices_stream`` row, as far as the invoice itself determines it.

    Not frozen only because frozen dataclasses are slower to build on the hot path; treat
    instances as immutable. Ids are text, like the table's natural key columns.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = INVOICE_COLUMNS

    invoice_number: str
    reference_number: str | None
    customer_id: str | None
    customer_name: str | None
    customer_first_name: str | None
    customer_last_name: str | None
    customer_address: str | None
    customer_city: str | None
    customer_state: str | None
    customer_zip: str | None
    job_number: str | None
    job_type: str | None
    business_unit: str | None
    invoice_date: date | None
    due_date: date | None
    subtotal: Decimal | None
    sales_tax: Decimal | None
    total: Decimal | None
    balance: Decimal | None
    active: bool | None
    source_created_at: datetime | None
    source_modified_at: datetime | None

    @property
    def key(self) -> str:
        """The natural key within one tenant."""
        return self.invoice_number

    def as_tuple(self) -> tuple[object, ...]:
        """The values in ``COLUMNS`` order, for ``copy.write_row``."""
        values: tuple[object, ...] = _invoice_values(self)
        return values


_invoice_values = attrgetter(*INVOICE_COLUMNS)


def map_invoice(invoice: InvoiceMappedFields, customer_type: str | None = None) -> InvoiceRecord:
    """Map one validated export invoice (``InvoiceMappedFields``) to its row.

    ``customer_type`` is the customer's ServiceTitan type when the caller knows it (invoices do
    not carry it); it decides whether the customer name is split, see
    ``records.names.split_invoice_customer_name``.
    """
    customer = invoice.customer
    address = invoice.customer_address
    job = invoice.job
    business_unit = invoice.business_unit
    return _invoice_record(
        invoice.id,
        invoice.reference_number,
        customer.id if customer is not None else None,
        customer.name if customer is not None else None,
        customer_type,
        address.street if address is not None else None,
        address.city if address is not None else None,
        address.state if address is not None else None,
        address.zip if address is not None else None,
        job.number if job is not None else None,
        job.type if job is not None else None,
        business_unit.name if business_unit is not None else None,
        invoice.invoice_date,
        invoice.due_date,
        invoice.sub_total,
        invoice.sales_tax,
        invoice.total,
        invoice.balance,
        invoice.active,
        invoice.created_on,
        invoice.modified_on,
    )


def map_raw_invoice(
    raw: dict[str, Any], customer_types: Mapping[int, str | None] | None = None
) -> InvoiceRecord | None:
    """The fast path of ``map_invoice``: the row straight from parsed JSON, or ``None``.

    ``None`` means "not plainly valid, validate with ``InvoiceMappedFields``"; see
    ``records.raw``. Every field ``InvoiceMappedFields`` declares is checked, including nested
    ones that are not mapped (``customerAddress.unit``, ``businessUnit.id``…), so that a row
    returned here is exactly the row the model path returns.
    """
    try:
        get = raw.get
        invoice_id = record_id(get("id"))
        customer = optional_object(get("customer"))
        customer_id = customer_name = None
        if customer is not None:
            customer_id = optional_int64(customer.get("id"))
            customer_name = optional_text(customer.get("name"))
        address = optional_object(get("customerAddress"))
        street = city = state = zip_code = None
        if address is not None:
            street = optional_text(address.get("street"))
            optional_text(address.get("unit"))
            city = optional_text(address.get("city"))
            state = optional_text(address.get("state"))
            zip_code = optional_text(address.get("zip"))
            optional_text(address.get("country"))
        job = optional_object(get("job"))
        job_number = job_type = None
        if job is not None:
            optional_int64(job.get("id"))
            job_number = optional_text(job.get("number"))
            job_type = optional_text(job.get("type"))
        business_unit = optional_object(get("businessUnit"))
        business_unit_name = None
        if business_unit is not None:
            optional_int64(business_unit.get("id"))
            business_unit_name = optional_text(business_unit.get("name"))
        customer_type = (
            customer_types.get(customer_id) if customer_types and customer_id is not None else None
        )
        return _invoice_record(
            invoice_id,
            optional_text(get("referenceNumber")),
            customer_id,
            customer_name,
            customer_type,
            street,
            city,
            state,
            zip_code,
            job_number,
            job_type,
            business_unit_name,
            optional_timestamp(get("invoiceDate")),
            optional_timestamp(get("dueDate")),
            optional_money(get("subTotal")),
            optional_money(get("salesTax")),
            optional_money(get("total")),
            optional_money(get("balance")),
            optional_bool(get("active")),
            optional_timestamp(get("createdOn")),
            optional_timestamp(get("modifiedOn")),
        )
    except Unusual:
        return None


def _invoice_record(
    invoice_id: int,
    reference_number: str | None,
    customer_id: int | None,
    customer_name: str | None,
    customer_type: str | None,
    street: str | None,
    city: str | None,
    state: str | None,
    zip_code: str | None,
    job_number: str | None,
    job_type: str | None,
    business_unit: str | None,
    invoice_date: datetime | None,
    due_date: datetime | None,
    subtotal: Decimal | None,
    sales_tax: Decimal | None,
    total: Decimal | None,
    balance: Decimal | None,
    active: bool | None,
    created_on: datetime | None,
    modified_on: datetime | None,
) -> InvoiceRecord:
    """The mapping rules, shared by both paths.

    ``invoice_date``/``due_date`` are the calendar date as ServiceTitan wrote it (in its
    offset, not converted to UTC): that is the business date printed on the invoice. .NET's
    "no date" (``0001-01-01T00:00:00``) is no date: ``None``.
    """
    first_name, last_name = split_invoice_customer_name(customer_name, customer_type)
    return InvoiceRecord(
        invoice_number=str(invoice_id),
        reference_number=reference_number,
        customer_id=str(customer_id) if customer_id is not None else None,
        customer_name=customer_name,
        customer_first_name=first_name,
        customer_last_name=last_name,
        customer_address=street,
        customer_city=city,
        customer_state=clean_code(state),
        customer_zip=clean_code(zip_code),
        job_number=job_number,
        job_type=job_type,
        business_unit=business_unit,
        invoice_date=business_date(invoice_date),
        due_date=business_date(due_date),
        subtotal=subtotal,
        sales_tax=sales_tax,
        total=total,
        balance=balance,
        active=active,
        source_created_at=created_on,
        source_modified_at=modified_on,
    )
