"""Invoices written straight to JSON text: the hot path of every benchmark.

An invoice has ~45 fields, ~2 KB of JSON. Building a dict and serializing it costs ~30 µs;
assembling the text from pre-serialized fragments (bundles of low-variety fields, names,
places, item templates — all JSON-escaped once at start-up) costs about a third of that. The
dict form that ground truth and the list endpoints need is parsed back from the same text, so
served bytes and ground truth cannot disagree.

The writer reads its tenant's pools and per-index attributes through ``InvoiceSource``, which
``sandbox.generate.TenantGenerator`` provides: the generator builds a writer, never the reverse.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from sandbox import vocab
from sandbox.config import TenantSpec
from sandbox.rng import Draw, hash_key, mix64
from sandbox.sequence import BaseSequence
from sandbox.timefmt import TICKS_PER_DAY, format_date
from sandbox.timefmt import format_ticks as ts

Record = dict[str, Any]


class InvoiceSource(Protocol):
    """What the writer reads of its tenant's generator: pools built once, cheap lookups."""

    spec: TenantSpec
    invoices: BaseSequence
    k_invoices: int
    pool_key: tuple[int, int]
    invoice_bundles: list[tuple[Record, int, int]]
    item_templates: list[Record]
    residential_names: list[str]
    commercial_names: list[str]
    places: list[tuple[Any, ...]]

    def identity_parts(self, c: int) -> tuple[bool, int, int, int]: ...
    def street(self, h: int) -> str: ...
    def invoice_base_active(self, i: int) -> bool: ...


_CONFIG_NO_JOB = ("CounterSales", "MembershipInvoice", "InterestChargeInvoice", "ARImportInvoice")
_FRAGMENT_CACHE: dict[tuple[int, int], tuple[Any, ...]] = {}
_JOB_TYPES_JSON = [orjson.dumps(t).decode() for t in vocab.JOB_TYPES]


def jstr(value: str | None) -> str:
    """A JSON string literal (or ``null``)."""
    return orjson.dumps(value).decode()


def jmoney(cents: int) -> str:
    """Money as a JSON string literal: ``"1234.50"``, ``"-20.00"``, ``"0.00"``."""
    if cents < 0:
        whole, frac = divmod(-cents, 100)
        return f'"-{whole}.{frac:02d}"'
    whole, frac = divmod(cents, 100)
    return f'"{whole}.{frac:02d}"'


def _fragment(record: Record) -> str:
    """``{"a":1,"b":2}`` → ``"a":1,"b":2`` (to splice into a larger object)."""
    return orjson.dumps(record).decode()[1:-1]


class InvoiceWriter:
    """Writes ``Accounting.V2.ExportInvoiceResponse`` JSON for one tenant's generator."""

    def __init__(self, gen: InvoiceSource) -> None:
        self.gen = gen
        cached = _FRAGMENT_CACHE.get(gen.pool_key)
        if cached is not None:
            self._bundles, self._items, self._res_names, self._com_names, self._places = cached
            return
        self._bundles = [
            (_fragment(public), public, rate_bp, due_days)
            for public, rate_bp, due_days in gen.invoice_bundles
        ]
        self._items = [_fragment(t) for t in gen.item_templates]
        self._res_names = [jstr(n) for n in gen.residential_names]
        self._com_names = [jstr(n) for n in gen.commercial_names]
        # Per place: unit, city, state, zip (as is), zip (empty → null), country (empty → null).
        self._places = [
            (jstr(unit), jstr(city), jstr(state), jstr(zip_code), jstr(zip_code or None),
             jstr(country or None))
            for unit, city, state, zip_code, country, _lat, _lon in gen.places
        ]  # fmt: skip
        if len(_FRAGMENT_CACHE) >= 64:
            _FRAGMENT_CACHE.clear()
        _FRAGMENT_CACHE[gen.pool_key] = (
            self._bundles,
            self._items,
            self._res_names,
            self._com_names,
            self._places,
        )

    def write(
        self,
        i: int,
        invoice_id: int,
        created: int,
        mod: int,
        customer_index: int,
        customer_id: int,
        version: int = 0,
    ) -> str:
        """The invoice's JSON text. Customer name and address are copied as they were when
        the invoice was written (later renames do not rewrite old invoices)."""
        gen = self.gen
        h1 = mix64(gen.k_invoices ^ 0x1417 ^ i)
        h2 = mix64(h1 ^ 0x2BAD)
        fragment, public, rate_bp, due_days = self._bundles[h1 % len(self._bundles)]
        h1 >>= 10
        commercial, name_index, place_index, street_hash = gen.identity_parts(customer_index)
        name = self._com_names[name_index] if commercial else self._res_names[name_index]
        unit, city, state, zip_raw, zip_or_null, country = self._places[place_index]
        street = gen.street(street_hash)
        kind_roll = h1 % 100
        h1 >>= 7
        has_job = kind_roll >= 15
        if not has_job:
            configuration = _CONFIG_NO_JOB[kind_roll % 4]
        else:
            configuration = "ProjectInvoice" if kind_roll < 22 else "JobInvoice"
        # Money in cents: zero invoices (warranty), credits/adjustments (negative), normal.
        money_roll = h1 % 100
        h1 >>= 7
        if money_roll < 8:
            sub = 0
        elif money_roll < 14:
            sub = -(500 + h1 % 150_000)
        elif money_roll < 94:
            sub = 4_900 + h1 % 55_100
        else:
            sub = 60_000 + h1 % 12_440_000
        pay_roll = h2 % 100
        h2 >>= 7
        if version:
            v = Draw(hash_key(gen.k_invoices, i, 0x1417, version))
            if v.chance(30):
                sub += v.between(-20_000, 40_000)
            if v.chance(50):
                pay_roll = 0  # a modification that records a payment
            changed = dict(public)
            if v.chance(30):
                changed["reviewStatus"], changed["sentStatus"] = "Invoiced", "Sent"
            if v.chance(20):
                changed["summary"] = f"Updated (rev {version}): {public['summary'] or ''}"
            fragment = _fragment(changed)
        tax = (sub * rate_bp) // 10_000
        total = sub + tax
        if total <= 0 or pay_roll < 55:
            balance = 0 if total > 0 else total
        elif pay_roll < 70:
            balance = total // 2
        else:
            balance = total
        paid = balance == 0 and total > 0
        adjustment_to = "null"
        if 8 <= money_roll < 14 and 0 < i < gen.invoices.count:
            adjustment_to = str(gen.invoices.id_of(i - 1 - h2 % min(i, 50)))
        h2 >>= 6
        invoice_day = created - created % TICKS_PER_DAY
        nulls = h2 % 1000  # one roll decides which rare null (if any) this record carries
        h2 >>= 10
        addr_roll = h2 % 100
        h2 >>= 7
        item_roll = h2 % 100
        h2 >>= 7
        created_s, mod_s = ts(created), ts(mod)
        if item_roll < 30:
            items = self._write_items(h2, i, sub, created_s, mod_s, format_date(created))
        else:
            items = "null" if item_roll < 70 else "[]"
        if addr_roll >= 3:
            customer_address = (
                f'{{"street":"{street}","unit":{unit},'
                f'"city":{city if addr_roll >= 6 else "null"},"state":{state},'
                f'"zip":{zip_raw if addr_roll >= 8 else "null"},"country":{country}}}'
            )
        else:
            customer_address = "null"
        q = '"'  # f-strings of Python 3.11 cannot nest the quote they are written with
        if has_job:
            job_id = 5_000_000 + i * 2 + gen.spec.tenant_id % 2
            job_number = f'"{job_id}"' if nulls % 20 else "null"
            job_type = _JOB_TYPES_JSON[i % len(_JOB_TYPES_JSON)] if nulls % 30 else "null"
            job = f'{{"id":{job_id},"number":{job_number},"type":{job_type}}}'
        else:
            job = "null"
        if nulls < 20:
            reference = "null"
        elif nulls % 10:
            reference = f'"{invoice_id - 29_000_000}"'
        else:
            reference = f'"A-{i}"'
        paid_on = f"{q}{ts(mod - h2 % TICKS_PER_DAY)}{q}" if paid and item_roll % 10 else "null"
        deposited = f"{q}{mod_s}{q}" if paid and item_roll % 3 == 0 else "null"
        invoice_date = "null" if 20 <= nulls < 40 else f"{q}{format_date(invoice_day)}{q}"
        due_date = (
            f"{q}{format_date(invoice_day + due_days * TICKS_PER_DAY)}{q}" if nulls % 10 else "null"
        )
        customer = "null" if 90 <= nulls < 100 else f'{{"id":{customer_id},"name":{name}}}'
        location = (
            "null"
            if 100 <= nulls < 150
            else f'{{"id":{2_000_000 + customer_index * 2},"name":"{street}"}}'
        )
        location_address = (
            "null"
            if 150 <= nulls < 250
            else (
                f'{{"street":"{street}","unit":{unit},"city":{city},"state":{state},'
                f'"zip":{zip_or_null},"country":{country}}}'
            )
        )
        membership = 90_000 + i % 5000 if configuration == "MembershipInvoice" else "null"
        project = 700_000 + i // 7 if configuration == "ProjectInvoice" else "null"
        active = "true" if gen.invoice_base_active(i) else "false"
        sub_total = "null" if 40 <= nulls < 50 else jmoney(sub)
        sales_tax = "null" if 50 <= nulls < 70 else jmoney(tax)
        total_json = "null" if 70 <= nulls < 80 else jmoney(total)
        balance_json = "null" if 80 <= nulls < 90 else jmoney(balance)
        return (
            f'{{"id":{invoice_id},{fragment},"items":{items},"active":{active},'
            f'"membershipId":{membership},"paidOn":{paid_on},'
            f'"invoiceConfiguration":"{configuration}","referenceNumber":{reference},'
            f'"invoiceDate":{invoice_date},"dueDate":{due_date},"subTotal":{sub_total},'
            f'"salesTax":{sales_tax},"total":{total_json},"balance":{balance_json},'
            f'"customer":{customer},"customerAddress":{customer_address},'
            f'"location":{location},"locationAddress":{location_address},'
            f'"depositedOn":{deposited},"createdOn":"{created_s}","modifiedOn":"{mod_s}",'
            f'"adjustmentToId":{adjustment_to},"job":{job},"projectId":{project}}}'
        )

    def _write_items(
        self, h: int, i: int, sub: int, created: str, mod: str, service_date: str
    ) -> str:
        """``Accounting.V2.InvoiceItemResponse`` lines (quantities and money as strings)."""
        count = 1 + h % 3
        h >>= 2
        remaining = sub
        lines = []
        for n in range(count):
            line_total = remaining if n == count - 1 else remaining // 2
            remaining -= line_total
            qty = 1 + (h >> (n * 6)) % 4
            cost = abs(line_total) // 3
            template = self._items[(h >> (n * 6 + 2)) % len(self._items)]
            lines.append(
                f'{{"id":{40_000_000 + i * 4 + n},{template},'
                f'"quantity":"{qty}.00","cost":{jmoney(cost)},"totalCost":{jmoney(cost * qty)},'
                f'"price":{jmoney(line_total // qty)},"total":{jmoney(line_total)},'
                f'"createdOn":"{created}","modifiedOn":"{mod}","serviceDate":"{service_date}",'
                f'"order":{n + 1}}}'
            )  # fmt: skip
        return f"[{','.join(lines)}]"
