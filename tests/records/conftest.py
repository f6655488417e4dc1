"""Fixtures for the record models and maps: complete raw export records, as the API sends them.

Each factory returns a fresh deep copy with every field the OpenAPI schema lists, filled the
way real exports are (money as strings on invoices, 7-digit timestamps, nested objects); pass
keyword overrides to change top-level fields.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.openapi import load_schemas

RawFactory = Callable[..., dict[str, Any]]

INVOICE: dict[str, Any] = {
    "id": 24681357,
    "syncStatus": "Pending",
    "budgetCodeId": None,
    "referenceNumber": "1676",
    "invoiceDate": "2021-07-19T00:00:00Z",
    "dueDate": "2021-08-18T00:00:00Z",
    "subTotal": "100.00",
    "salesTax": "8.25",
    "salesTaxCode": {"id": 5, "name": "TX", "taxRate": 0.0825},
    "taxZoneId": None,
    "total": "108.25",
    "balance": "0.00",
    "discountTotal": "0.00",
    "invoiceType": {"id": 1, "name": "Service"},
    "customer": {"id": 998877, "name": "Smith, John"},
    "customerAddress": {
        "street": "1 Main St",
        "unit": "Apt 2",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "USA",
    },
    "location": {"id": 3, "name": "Home"},
    "locationAddress": {
        "street": "1 Main St",
        "unit": None,
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "USA",
    },
    "businessUnit": {"id": 7, "name": "HVAC Service"},
    "termName": "Due Upon Receipt",
    "createdBy": "admin",
    "batch": {"id": 9, "number": "100", "name": "July"},
    "depositedOn": None,
    "createdOn": "2021-07-19T20:30:00.1234567Z",
    "modifiedOn": "2021-07-19T20:35:38.2876004Z",
    "adjustmentToId": None,
    "job": {"id": 55, "number": "J-55", "type": "Repair"},
    "projectId": None,
    "royalty": {"status": "Pending", "date": None, "sentOn": None, "memo": None},
    "employeeInfo": {"id": 4, "name": "Tech", "modifiedOn": "2021-07-19T20:35:38.2876004Z"},
    "commissionEligibilityDate": None,
    "sentStatus": "NotSent",
    "reviewStatus": "NeedsReview",
    "assignedTo": None,
    "summary": "<p>Fixed the AC</p>",
    "items": [
        {
            "id": 1,
            "description": "Capacitor",
            "quantity": "1.00",
            "cost": "10.00",
            "totalCost": "10.00",
            "price": "100.00",
            "type": "Material",
            "skuName": "CAP-45",
            "skuId": 3,
            "total": "100.00",
            "inventory": False,
            "taxable": True,
            "isChargeable": True,
            "membershipTypeId": 0,
            "createdOn": "2021-07-19T20:30:00.1234567Z",
            "modifiedOn": "2021-07-19T20:30:00.1234567Z",
            "order": 1,
            "addOn": False,
        }
    ],
    "customFields": [{"name": "Source", "value": "Web"}],
    "active": True,
    "importId": None,
    "exportId": None,
    "materialSkuId": None,
    "membershipId": None,
    "paidOn": None,
    "invoiceConfiguration": "JobInvoice",
}

CUSTOMER: dict[str, Any] = {
    "id": 998877,
    "active": True,
    "name": "Smith, John",
    "type": "Residential",
    "address": {
        "street": "1 Main St",
        "unit": None,
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "USA",
        "latitude": 30.2672,
        "longitude": -97.7431,
    },
    "customFields": [{"typeId": 1, "name": "Source", "value": "Web"}],
    "balance": 12.34,
    "taxExempt": False,
    "tagTypeIds": [1, 2],
    "doNotMail": False,
    "doNotService": True,
    "nationalAccount": False,
    "createdOn": "2020-01-02T03:04:05.1234567Z",
    "createdById": 1,
    "modifiedOn": "2021-07-19T20:35:38.2876004Z",
    "mergedToId": None,
    "paymentTermId": None,
    "creditLimit": None,
    "creditLimitBalance": None,
    "externalData": [{"key": "crm", "value": "42"}],
}

CONTACT: dict[str, Any] = {
    "id": 5550001,
    "type": "MobilePhone",
    "value": "5125550100",
    "memo": "cell",
    "phoneSettings": {"phoneNumber": "5125550100", "doNotText": False},
    "preferences": {
        "jobRemindersEnabled": True,
        "marketingUpdatesEnabled": False,
        "invoiceStatementNotification": True,
        "invoiceNotification": True,
        "statementNotification": True,
    },
    "createdOn": "2020-01-02T03:04:05Z",
    "modifiedOn": "2021-07-19T20:35:38.2876004Z",
    "customerId": 998877,
    "active": True,
}


def _factory(template: dict[str, Any]) -> RawFactory:
    def make(**overrides: Any) -> dict[str, Any]:
        record = copy.deepcopy(template)
        record.update(overrides)
        return record

    return make


@pytest.fixture
def raw_invoice() -> RawFactory:
    """``raw_invoice(**overrides)``: a complete export invoice."""
    return _factory(INVOICE)


@pytest.fixture
def raw_customer() -> RawFactory:
    """``raw_customer(**overrides)``: a complete export customer."""
    return _factory(CUSTOMER)


@pytest.fixture
def raw_contact() -> RawFactory:
    """``raw_contact(**overrides)``: a complete export customer contact."""
    return _factory(CONTACT)


@pytest.fixture(scope="session")
def openapi_schemas() -> dict[str, Any]:
    """ServiceTitan's component schemas, by name (tests/openapi)."""
    return load_schemas()
