"""Models of whole ServiceTitan export records: every property of the OpenAPI schemas.

The product validates only the fields it stores (``servicetitan.models.*MappedFields``). These
models inherit those fields unchanged and add every other property, so the schema-drift test
(test_schema_drift.py) can check the OpenAPI documents property by property, and other tests
can check that the sandbox serves records a full model accepts. The rules are those of
``servicetitan.models``: optional, nullable, strict types, enums as plain ``str``, unknown
fields kept (``extra="allow"``). Invoice lines (``items``) are kept as sent, unvalidated;
``InvoiceItem`` parses one on demand.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict

from servicetitan.models import (
    Address,
    ContactMappedFields,
    CustomerMappedFields,
    Int64,
    InvoiceMappedFields,
    Money,
    NamedRef,
    ServiceTitanModel,
    Timestamp,
)

# --------------------------------------------------------------------------------------------
# Known enum values of the fields below
# --------------------------------------------------------------------------------------------


class InvoiceSentStatus(StrEnum):
    """``Accounting.V2.InvoiceSentStatus``."""

    NOT_SENT = "NotSent"
    SENT = "Sent"
    OPENED = "Opened"


class InvoiceReviewStatus(StrEnum):
    """``Accounting.V2.InvoiceReviewStatus``."""

    NEEDS_REVIEW = "NeedsReview"
    ON_HOLD = "OnHold"
    REVIEWED = "Reviewed"
    PENDING_APPROVAL = "PendingApproval"
    REJECTED = "Rejected"
    READY_FOR_BILLING = "ReadyForBilling"
    INVOICED = "Invoiced"


class InvoiceConfiguration(StrEnum):
    """``Accounting.V2.InvoiceConfiguration``."""

    JOB_INVOICE = "JobInvoice"
    PROJECT_INVOICE = "ProjectInvoice"
    COUNTER_SALES = "CounterSales"
    MEMBERSHIP_INVOICE = "MembershipInvoice"
    INTEREST_CHARGE_INVOICE = "InterestChargeInvoice"
    AR_IMPORT_INVOICE = "ARImportInvoice"


class InvoiceItemType(StrEnum):
    """``Accounting.V2.InvoiceItemType``."""

    SERVICE = "Service"
    MATERIAL = "Material"
    EQUIPMENT = "Equipment"
    PRICE_MODIFIER = "PriceModifier"
    UNSPECIFIED = "Unspecified"


# --------------------------------------------------------------------------------------------
# Invoices (accounting v2)
# --------------------------------------------------------------------------------------------


class BatchRef(ServiceTitanModel):
    """``Accounting.V2.BatchResponse``."""

    id: Int64 | None = None
    number: str | None = None
    name: str | None = None


class SalesTaxCode(ServiceTitanModel):
    """``Accounting.V2.SalesTaxResponse``."""

    id: Int64 | None = None
    name: str | None = None
    tax_rate: Money | None = None


class Royalty(ServiceTitanModel):
    """``Accounting.V2.RoyaltyResponse``."""

    status: str | None = None
    date: Timestamp | None = None
    sent_on: Timestamp | None = None
    memo: str | None = None


class EmployeeInfo(ServiceTitanModel):
    """``Accounting.V2.EmployeeInfoResponse``."""

    id: Int64 | None = None
    name: str | None = None
    modified_on: Timestamp | None = None


class InvoiceCustomField(ServiceTitanModel):
    """``Accounting.V2.CustomFieldResponse``."""

    name: str | None = None
    value: str | None = None


class GLAccount(ServiceTitanModel):
    """``Accounting.V2.GLAccountResponse``."""

    id: Int64 | None = None
    name: str | None = None
    number: str | None = None
    type: str | None = None
    detail_type: str | None = None


class ItemGroup(ServiceTitanModel):
    """``Accounting.V2.ItemGroupResponse``."""

    root_id: Int64 | None = None
    name: str | None = None


class InvoiceItem(ServiceTitanModel):
    """``Accounting.V2.InvoiceItemResponse``: one line of an invoice (not mapped today).

    Quantities and amounts are strings on the wire, like invoice money.
    """

    id: Int64 | None = None
    description: str | None = None
    quantity: Money | None = None
    cost: Money | None = None
    total_cost: Money | None = None
    budget_code_id: Int64 | None = None
    inventory_location_id: Int64 | None = None
    inventory_location: str | None = None
    price: Money | None = None
    type: str | None = None
    sku_name: str | None = None
    sku_id: Int64 | None = None
    total: Money | None = None
    inventory: bool | None = None
    taxable: bool | None = None
    is_chargeable: bool | None = None
    general_ledger_account: GLAccount | None = None
    cost_of_sale_account: GLAccount | None = None
    asset_account: GLAccount | None = None
    membership_type_id: Int64 | None = None
    item_group: ItemGroup | None = None
    display_name: str | None = None
    sold_hours: Money | None = None
    created_on: Timestamp | None = None
    modified_on: Timestamp | None = None
    service_date: Timestamp | None = None
    order: int | None = None
    business_unit: NamedRef | None = None
    created_by_id: Int64 | None = None
    display_in_amount: bool | None = None
    import_id: str | None = None
    export_id: str | None = None
    inventory_status: str | None = None
    add_on: bool | None = None
    member_price: Money | None = None
    technician_id: Int64 | None = None
    installed_equipment_id: Int64 | None = None
    estimate_item_id: Int64 | None = None


class ExportInvoice(InvoiceMappedFields):
    """``Accounting.V2.ExportInvoiceResponse``: one record of ``/export/invoices``, every field.

    ``items`` (the invoice lines) are kept as sent, unvalidated: they are not mapped, they are
    the bulk of a record, and a malformed line must not reject its invoice. Parse a line with
    ``parse_record(InvoiceItem, line)`` when needed.
    """

    model_config = ConfigDict(extra="allow", validate_by_name=True)

    sync_status: str | None = None
    budget_code_id: Int64 | None = None
    sales_tax_code: SalesTaxCode | None = None
    tax_zone_id: Int64 | None = None
    discount_total: Money | None = None
    invoice_type: NamedRef | None = None
    location: NamedRef | None = None
    location_address: Address | None = None
    term_name: str | None = None
    created_by: str | None = None
    batch: BatchRef | None = None
    deposited_on: Timestamp | None = None
    adjustment_to_id: Int64 | None = None
    project_id: Int64 | None = None
    royalty: Royalty | None = None
    employee_info: EmployeeInfo | None = None
    commission_eligibility_date: str | None = None
    sent_status: str | None = None
    """Known values: ``InvoiceSentStatus``."""
    review_status: str | None = None
    """Known values: ``InvoiceReviewStatus``."""
    assigned_to: NamedRef | None = None
    summary: str | None = None
    items: list[Any] | None = None
    custom_fields: list[InvoiceCustomField] | None = None
    import_id: str | None = None
    export_id: str | None = None
    material_sku_id: Int64 | None = None
    membership_id: Int64 | None = None
    paid_on: Timestamp | None = None
    invoice_configuration: str | None = None
    """Known values: ``InvoiceConfiguration``."""


# --------------------------------------------------------------------------------------------
# Customers and their contacts (crm v2)
# --------------------------------------------------------------------------------------------


class CustomerCustomField(ServiceTitanModel):
    """``Crm.V2.Customers.CustomFieldModel``."""

    type_id: Int64 | None = None
    name: str | None = None
    value: str | None = None


class ExternalData(ServiceTitanModel):
    """``Crm.V2.ExternalDataModel``."""

    key: str | None = None
    value: str | None = None


class ExportCustomer(CustomerMappedFields):
    """``Crm.V2.ExportCustomerResponse``: one record of ``/export/customers``, every field."""

    model_config = ConfigDict(extra="allow", validate_by_name=True)

    custom_fields: list[CustomerCustomField] | None = None
    tax_exempt: bool | None = None
    tag_type_ids: list[Int64] | None = None
    national_account: bool | None = None
    created_by_id: Int64 | None = None
    payment_term_id: Int64 | None = None
    credit_limit: Money | None = None
    credit_limit_balance: Money | None = None
    external_data: list[ExternalData] | None = None


class PhoneSettings(ServiceTitanModel):
    """``Crm.V2.Customers.PhoneSettings``."""

    phone_number: str | None = None
    do_not_text: bool | None = None


class ContactPreferences(ServiceTitanModel):
    """``Crm.V2.Customers.ContactPreferencesResponse``."""

    job_reminders_enabled: bool | None = None
    marketing_updates_enabled: bool | None = None
    invoice_statement_notification: bool | None = None
    invoice_notification: bool | None = None
    statement_notification: bool | None = None


class ExportCustomerContact(ContactMappedFields):
    """``Crm.V2.ExportCustomerContactResponse``: one record of ``/export/customers/contacts``."""

    model_config = ConfigDict(extra="allow", validate_by_name=True)

    memo: str | None = None
    phone_settings: PhoneSettings | None = None
    preferences: ContactPreferences | None = None
    created_on: Timestamp | None = None
