"""Names of the endpoints, as used by counters, fault scopes and the admin API."""

from __future__ import annotations

from typing import Final

TOKEN: Final = "token"  # noqa: S105 (an endpoint name, not a secret)
EXPORT_INVOICES: Final = "export_invoices"
EXPORT_CUSTOMERS: Final = "export_customers"
EXPORT_CONTACTS: Final = "export_contacts"
INVOICES: Final = "invoices"
CUSTOMERS: Final = "customers"
CUSTOMER: Final = "customer"
CUSTOMER_CONTACTS: Final = "customer_contacts"
"""``GET /crm/v2/tenant/{t}/customers/contacts`` (bulk, by customer ids or modification date)."""
CONTACTS_OF_CUSTOMER: Final = "contacts_of_customer"
"""``GET /crm/v2/tenant/{t}/customers/{id}/contacts``."""

EXPORTS: Final = (EXPORT_INVOICES, EXPORT_CUSTOMERS, EXPORT_CONTACTS)
API: Final = (*EXPORTS, INVOICES, CUSTOMERS, CUSTOMER, CUSTOMER_CONTACTS, CONTACTS_OF_CUSTOMER)
ALL: Final = (TOKEN, *API)
