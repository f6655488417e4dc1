"""The fast path (records.raw, map_raw_*) never disagrees with the model path.

For every field the ``*MappedFields`` models declare (nested ones included), each value of a
palette of awkward JSON values is tried: the fast path must either decline (``None``) or return
exactly the row the model path returns, and it must decline whenever the model rejects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, get_args

import pytest
from pydantic import BaseModel

import records.pipeline as pipeline
from records.contact import map_contact, map_raw_contact
from records.invoice import map_invoice, map_raw_invoice
from records.member import map_customer, map_raw_customer
from records.pipeline import map_contacts, map_customers, map_invoices
from servicetitan.models import (
    INT64_MAX,
    INT64_MIN,
    ContactMappedFields,
    CustomerMappedFields,
    InvoiceMappedFields,
    RecordProblem,
    parse_record,
)


class Text(str):
    """A str subclass: the model takes it, the fast path may decline it."""


class Number(int):
    """An int subclass, likewise."""


PALETTE: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    INT64_MAX,
    INT64_MAX + 1,
    INT64_MIN,
    INT64_MIN - 1,
    1.5,
    2.0,
    float("nan"),
    "",
    "abc",
    "12.50",
    "-0.00",
    "1e40",
    "NaN",
    " 5",
    "1_000",
    "2021-07-19T20:35:38.2876004Z",
    "2021-07-19T23:00:00-05:00",
    "2021-07-19T00:00:00",
    "2021-07-19",
    "0001-01-01T00:00:00",
    "Residential",
    "Smith, John",
    "a\x00b",
    [],
    {},
    {"id": 1, "name": "x"},
    Text("text"),
    Number(5),
    Decimal("1.5"),
]

MISSING = object()


def _alias(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for member in (annotation, *get_args(annotation)):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def field_paths(model: type[BaseModel]) -> Iterator[tuple[str, ...]]:
    """Every JSON path the model validates: ("customer",), ("customer", "id"), …"""
    for name, field in model.model_fields.items():
        alias = _alias(model, name)
        yield (alias,)
        nested = _nested_model(field.annotation)
        if nested is not None:
            for nested_name in nested.model_fields:
                yield (alias, _alias(nested, nested_name))


def variants(base: dict[str, Any], model: type[BaseModel]) -> Iterator[dict[str, Any]]:
    for path in field_paths(model):
        for value in [*PALETTE, MISSING]:
            raw = copy.deepcopy(base)
            target = raw
            for key in path[:-1]:
                target = target[key]
                if not isinstance(target, dict):
                    break
            else:
                if value is MISSING:
                    target.pop(path[-1], None)
                else:
                    target[path[-1]] = value
                yield raw


STREAMS = [
    ("raw_invoice", InvoiceMappedFields, map_raw_invoice, map_invoice),
    ("raw_customer", CustomerMappedFields, map_raw_customer, map_customer),
    ("raw_contact", ContactMappedFields, map_raw_contact, map_contact),
]


@pytest.mark.parametrize(("fixture", "model", "map_raw", "map_model"), STREAMS)
def test_the_fast_path_agrees_with_the_model_on_every_variant(
    fixture: str,
    model: type[BaseModel],
    map_raw: Callable[[dict[str, Any]], Any],
    map_model: Callable[[Any], Any],
    request: pytest.FixtureRequest,
) -> None:
    base = request.getfixturevalue(fixture)()
    assert map_raw(base) is not None, "the plain record must take the fast path"
    accepted = declined_valid = 0
    for raw in variants(base, model):
        fast = map_raw(raw)
        parsed = parse_record(model, raw)  # type: ignore[type-var]
        if isinstance(parsed, RecordProblem):
            assert fast is None, f"fast path accepted what the model rejects: {parsed.reason}"
            continue
        slow = map_model(parsed)
        if fast is None:
            declined_valid += 1
        else:
            accepted += 1
            assert fast == slow
            assert [type(value) for value in fast.as_tuple()] == [
                type(value) for value in slow.as_tuple()
            ]
    assert accepted > 50
    assert declined_valid < accepted  # the fast path is the common path, not an exception


@pytest.mark.parametrize(
    ("fixture", "model", "map_page", "fast_name"),
    [
        ("raw_invoice", InvoiceMappedFields, map_invoices, "map_raw_invoice"),
        ("raw_customer", CustomerMappedFields, map_customers, "map_raw_customer"),
        ("raw_contact", ContactMappedFields, map_contacts, "map_raw_contact"),
    ],
)
def test_pages_map_the_same_with_and_without_the_fast_path(
    fixture, model, map_page, fast_name, request, monkeypatch
):
    base = request.getfixturevalue(fixture)()
    raws = []
    for position, raw in enumerate(variants(base, model)):
        if isinstance(raw.get("id"), int) and not isinstance(raw.get("id"), bool):
            raw["id"] = position + 1  # distinct ids, so nothing is superseded
        raws.append(raw)
    with_fast_path = map_page(raws)
    monkeypatch.setattr(pipeline, fast_name, lambda *args: None)
    model_only = map_page(raws)
    assert with_fast_path.rows == model_only.rows
    assert with_fast_path.rejects == model_only.rejects
    assert with_fast_path.rejected > 0
