"""The models against ServiceTitan's OpenAPI schemas: every property, both ways, with its type.

When ServiceTitan adds, removes or retypes a field of the records we sync, a test here names it.
"""

from __future__ import annotations

import types
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import BaseModel

from records.contact import map_contact
from records.invoice import map_invoice
from records.member import map_customer
from servicetitan.models import (
    Address,
    ContactMappedFields,
    ContactType,
    CustomerAddress,
    CustomerMappedFields,
    CustomerRef,
    CustomerType,
    InvoiceMappedFields,
    JobRef,
    NamedRef,
)
from tests.records.export_models import (
    BatchRef,
    ContactPreferences,
    CustomerCustomField,
    EmployeeInfo,
    ExportCustomer,
    ExportCustomerContact,
    ExportInvoice,
    ExternalData,
    GLAccount,
    InvoiceConfiguration,
    InvoiceCustomField,
    InvoiceItem,
    InvoiceItemType,
    InvoiceReviewStatus,
    InvoiceSentStatus,
    ItemGroup,
    PhoneSettings,
    Royalty,
    SalesTaxCode,
)

MODEL_FOR_SCHEMA: dict[str, type[BaseModel]] = {
    "Accounting.V2.ExportInvoiceResponse": ExportInvoice,
    "Accounting.V2.NamedFieldResponse": NamedRef,
    "Accounting.V2.AddressResponse": Address,
    "Accounting.V2.JobResponse": JobRef,
    "Accounting.V2.BatchResponse": BatchRef,
    "Accounting.V2.SalesTaxResponse": SalesTaxCode,
    "Accounting.V2.RoyaltyResponse": Royalty,
    "Accounting.V2.EmployeeInfoResponse": EmployeeInfo,
    "Accounting.V2.CustomFieldResponse": InvoiceCustomField,
    "Accounting.V2.InvoiceItemResponse": InvoiceItem,
    "Accounting.V2.GLAccountResponse": GLAccount,
    "Accounting.V2.ItemGroupResponse": ItemGroup,
    "Crm.V2.ExportCustomerResponse": ExportCustomer,
    "Crm.V2.Customers.CustomerAddress": CustomerAddress,
    "Crm.V2.Customers.CustomFieldModel": CustomerCustomField,
    "Crm.V2.ExternalDataModel": ExternalData,
    "Crm.V2.ExportCustomerContactResponse": ExportCustomerContact,
    "Crm.V2.Customers.PhoneSettings": PhoneSettings,
    "Crm.V2.Customers.ContactPreferencesResponse": ContactPreferences,
}

ENUM_FOR_SCHEMA: dict[str, type[StrEnum]] = {
    "Crm.V2.CustomerType": CustomerType,
    "Crm.V2.ContactType": ContactType,
    "Accounting.V2.InvoiceSentStatus": InvoiceSentStatus,
    "Accounting.V2.InvoiceReviewStatus": InvoiceReviewStatus,
    "Accounting.V2.InvoiceConfiguration": InvoiceConfiguration,
    "Accounting.V2.InvoiceItemType": InvoiceItemType,
}

MONEY_STRINGS = {
    "subTotal",
    "salesTax",
    "total",
    "balance",
    "discountTotal",
    "quantity",
    "cost",
    "totalCost",
    "price",
    "memberPrice",
}
"""String properties that hold amounts and are parsed to Decimal on purpose."""

KEPT_RAW = {("Accounting.V2.ExportInvoiceResponse", "items")}
"""Properties deliberately typed ``list[Any]`` (kept as sent, see ExportInvoice)."""

RECORD_MODELS = [ExportInvoice, ExportCustomer, ExportCustomerContact]

SCHEMA_NAMES = sorted(MODEL_FOR_SCHEMA)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    annotation = _strip_annotated(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return [_strip_annotated(member) for member in get_args(annotation)]
    return [annotation]


def _schema_alternatives(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """A property schema as a list of single-type alternatives (``null`` included)."""
    if "oneOf" in prop:
        return [alt for option in prop["oneOf"] for alt in _schema_alternatives(option)]
    if "$ref" in prop:
        return [{"$ref": prop["$ref"]}]
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return [{**prop, "type": kind} for kind in kinds]


def _compatible(
    alternative: dict[str, Any], python_type: Any, name: str, schemas: dict[str, Any]
) -> bool:
    """Whether ``python_type`` (one union member of the model field) fits the schema option."""
    if python_type is Any:
        return True
    if "$ref" in alternative:
        target = _ref_name(alternative["$ref"])
        if target in ENUM_FOR_SCHEMA:
            return python_type is str
        expected = MODEL_FOR_SCHEMA[target]
        return isinstance(python_type, type) and issubclass(python_type, expected)
    kind = alternative["type"]
    if kind == "integer":
        return python_type is int
    if kind == "number":
        return python_type in (Decimal, float)
    if kind == "boolean":
        return python_type is bool
    if kind == "string":
        if alternative.get("format") == "date-time":
            return python_type is datetime
        if name in MONEY_STRINGS:
            return python_type is Decimal
        return python_type is str
    if kind == "array":
        if get_origin(python_type) is not list:
            return False
        (item_type,) = get_args(python_type)
        item_alternatives = _schema_alternatives(alternative["items"])
        return all(
            any(_compatible(alt, member, name, schemas) for alt in item_alternatives)
            for member in _union_members(item_type)
        )
    raise AssertionError(f"unexpected schema type {kind!r} for {name}")


def _fields_by_alias(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


@pytest.mark.parametrize("schema_name", SCHEMA_NAMES)
def test_every_schema_property_is_a_model_field(schema_name, openapi_schemas):
    properties = set(openapi_schemas[schema_name]["properties"])
    fields = set(_fields_by_alias(MODEL_FOR_SCHEMA[schema_name]))
    assert properties - fields == set(), f"{schema_name}: properties missing from the model"


@pytest.mark.parametrize("schema_name", SCHEMA_NAMES)
def test_every_model_field_is_a_schema_property(schema_name, openapi_schemas):
    properties = set(openapi_schemas[schema_name]["properties"])
    fields = set(_fields_by_alias(MODEL_FOR_SCHEMA[schema_name]))
    assert fields - properties == set(), f"{schema_name}: model fields the schema lacks"


@pytest.mark.parametrize("schema_name", SCHEMA_NAMES)
def test_every_field_type_fits_its_schema(schema_name, openapi_schemas):
    model = MODEL_FOR_SCHEMA[schema_name]
    fields = _fields_by_alias(model)
    misfits = []
    for name, prop in openapi_schemas[schema_name]["properties"].items():
        members = _union_members(fields[name].annotation)
        if (schema_name, name) in KEPT_RAW:
            assert members == [list[Any], type(None)], f"{name} should be kept raw"
            continue
        alternatives = [alt for alt in _schema_alternatives(prop) if alt.get("type") != "null"]
        for member in members:
            if member is type(None):
                continue
            if not any(_compatible(alt, member, name, openapi_schemas) for alt in alternatives):
                misfits.append(f"{name}: {member!r} does not fit {alternatives}")
        if not any(
            _compatible(alt, m, name, openapi_schemas) for alt in alternatives for m in members
        ):
            misfits.append(f"{name}: no member of {members} fits {alternatives}")
    assert misfits == []


@pytest.mark.parametrize("schema_name", SCHEMA_NAMES)
def test_every_field_but_the_record_id_is_optional(schema_name):
    model = MODEL_FOR_SCHEMA[schema_name]
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    if model in RECORD_MODELS:
        assert required == ["id"]
    else:
        assert required == []
    for name, field in model.model_fields.items():
        if name != "id" or model not in RECORD_MODELS:
            assert type(None) in _union_members(field.annotation), f"{name} must accept null"


@pytest.mark.parametrize("schema_name", sorted(ENUM_FOR_SCHEMA))
def test_known_enum_values_match_the_schema(schema_name, openapi_schemas):
    documented = {member.value for member in ENUM_FOR_SCHEMA[schema_name]}
    assert documented == set(openapi_schemas[schema_name]["enum"])


def test_every_nested_schema_the_records_reference_has_a_model(openapi_schemas):
    """Walk the record schemas' references: each object reached must be in MODEL_FOR_SCHEMA."""
    seen: set[str] = set()
    pending = [
        "Accounting.V2.ExportInvoiceResponse",
        "Crm.V2.ExportCustomerResponse",
        "Crm.V2.ExportCustomerContactResponse",
    ]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        schema = openapi_schemas[name]
        if "enum" in schema:
            assert name in ENUM_FOR_SCHEMA
            continue
        assert name in MODEL_FOR_SCHEMA
        for prop in schema.get("properties", {}).values():
            for alternative in _schema_alternatives(prop):
                if "$ref" in alternative:
                    pending.append(_ref_name(alternative["$ref"]))
                elif alternative.get("type") == "array":
                    for item in _schema_alternatives(alternative["items"]):
                        if "$ref" in item:
                            pending.append(_ref_name(item["$ref"]))
    assert seen >= set(MODEL_FOR_SCHEMA)


@pytest.mark.parametrize(
    ("mapped", "full", "map_record", "fixture"),
    [
        (InvoiceMappedFields, ExportInvoice, map_invoice, "raw_invoice"),
        (CustomerMappedFields, ExportCustomer, map_customer, "raw_customer"),
        (ContactMappedFields, ExportCustomerContact, map_contact, "raw_contact"),
    ],
)
def test_full_models_keep_the_mapped_fields_unchanged(mapped, full, map_record, fixture, request):
    """The pipeline validates with the mapped-fields base; the full model must agree on it."""
    assert issubclass(full, mapped)
    for name, field in mapped.model_fields.items():
        assert full.model_fields[name].annotation == field.annotation
        assert full.model_fields[name].alias == field.alias
        assert full.model_fields[name].metadata == field.metadata
    raw = request.getfixturevalue(fixture)()
    assert map_record(full.model_validate(raw)) == map_record(mapped.model_validate(raw))


def test_customer_ref_is_a_named_ref():
    assert issubclass(CustomerRef, NamedRef)


@pytest.mark.parametrize(
    ("schema_name", "fixture"),
    [
        ("Accounting.V2.ExportInvoiceResponse", "raw_invoice"),
        ("Crm.V2.ExportCustomerResponse", "raw_customer"),
        ("Crm.V2.ExportCustomerContactResponse", "raw_contact"),
    ],
)
def test_the_test_fixtures_are_valid_by_the_schema(schema_name, fixture, openapi_schemas, request):
    """The sample records the other tests start from are what the spec says the API sends."""
    document = {"components": {"schemas": openapi_schemas}}
    schema = {"$ref": f"#/components/schemas/{schema_name}", **document}
    jsonschema.validate(request.getfixturevalue(fixture)(), schema)
