"""Record content as a pure function of ``(seed, tenant, kind, index, version)``.

Nothing is stored per record: the same arguments always give the same dict, so a tenant of a
million invoices costs no memory and two sandboxes with the same seed serve identical bytes.
Field names and types follow ServiceTitan's OpenAPI documents
(``Accounting.V2.ExportInvoiceResponse``, ``Crm.V2.ExportCustomerResponse``,
``Crm.V2.ExportCustomerContactResponse``); values are as awkward as real data (see
:mod:`sandbox.vocab`) while staying schema-valid.

Speed matters (benchmarks pull hundreds of thousands of records per second through this), so a
record is assembled from a few per-tenant *pools* built once at start-up (names, addresses,
"bundles" of the fields that vary little: statuses, custom fields, flags…) plus the fields that
must be unique per record (ids, times, money, references), sliced out of two 64-bit hashes.

``version`` 0 is a record as first seen; each later version is what a modification produced.
The state module decides which version of which record is current.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from sandbox import vocab
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.invoicegen import InvoiceWriter
from sandbox.rng import Draw, hash_key, mix64, str_key
from sandbox.sequence import BaseSequence, Timeline
from sandbox.timefmt import TICKS_PER_DAY, TICKS_PER_SECOND, datetime_to_ticks
from sandbox.timefmt import format_ticks as ts

Kind = Literal["customers", "invoices", "contacts"]
KINDS: tuple[Kind, ...] = ("customers", "invoices", "contacts")

Record = dict[str, Any]

CONTACT_SLOTS = 4
"""Dense contact index space per customer; base data uses at most 3 slots."""

_POOL_CACHE: dict[tuple[int, int], dict[str, Any]] = {}
_POOL = 4096  # names, addresses
_BUNDLES = 1024  # low-variety field bundles
_YEAR = 365 * TICKS_PER_DAY

# Contact layouts per count: (type, active). Chosen so the "primary phone/email = active
# contact of that type with the lowest id" rule is exercised: inactive low-id phones and
# emails, several phones, fax-only customers, customers with only inactive contacts.
CONTACT_PATTERNS: tuple[tuple[tuple[tuple[str, bool], ...], ...], ...] = (
    (),
    (
        (("Phone", True),),
        (("Email", True),),
        (("MobilePhone", True),),
        (("Fax", True),),
        (("Phone", False),),
    ),
    (
        (("Phone", True), ("Email", True)),
        (("MobilePhone", True), ("Email", True)),
        (("Email", True), ("Phone", True)),
        (("Phone", False), ("Phone", True)),
        (("Email", False), ("Email", True)),
        (("Fax", True), ("Email", True)),
        (("Phone", True), ("MobilePhone", True)),
    ),
    (
        (("Phone", False), ("MobilePhone", True), ("Email", True)),
        (("Email", False), ("Email", True), ("Phone", True)),
        (("MobilePhone", True), ("Phone", True), ("Fax", True)),
        (("Phone", True), ("Email", True), ("Email", True)),
        (("Fax", True), ("Phone", False), ("Email", False)),
        (("Phone", True), ("Phone", True), ("Email", True)),
    ),
)

_EMAIL_LOCALS = (
    "jsmith", "maria.garcia", "office", "billing", "kelly.obrien+hvac", "J.Doe", "seán.o",
    "accounts.payable", "noreply", "the_hendersons",
)  # fmt: skip

_TAX_BP = (0, 0, 725, 825, 1025, 600, 1300)  # sales tax rates, basis points
_INVENTORY_LOCATIONS = ("Main Warehouse", "Truck 7", "Truck 12", "North Yard", "Van – Équipe 3")
_INVENTORY_STATUSES = ("Allocated", "Used", "Returned", "Pending")
_INCOME_DETAIL_TYPES = ("Service/Fee Income", "Sales of Product Income", "Other Primary Income")
_ROYALTY_MEMOS = ("Q3 royalty", "Franchise fee – adjusted", "Resent after bounce")


def money(cents: int) -> str:
    """ServiceTitan's money-as-string: ``"1234.50"``, ``"-20.00"``, ``"0.00"``."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def _residential_name(d: Draw) -> str:
    first, last = d.pick(vocab.FIRST_NAMES), d.pick(vocab.LAST_NAMES)
    style = d.below(100)
    if style < 45:
        return f"{first} {last}"
    if style < 72:
        return f"{last}, {first}"
    if style < 78:
        return d.pick(vocab.SINGLE_NAMES)
    if style < 84:
        return f"{first} & {d.pick(vocab.FIRST_NAMES)} {last}"
    if style < 88:
        return f"{last.upper()}, {first.upper()}"
    if style < 92:
        return f" {first}  {last} "
    return f"{first} {d.pick(vocab.FIRST_NAMES)} {last}"


def _commercial_name(d: Draw) -> str:
    stem, kind = d.pick(vocab.COMPANY_STEMS), d.pick(vocab.COMPANY_KINDS)
    return f"{stem} {kind}{d.pick(vocab.COMPANY_SUFFIXES)}"


def _place(d: Draw) -> tuple[Any, ...]:
    """Everything of an address but the street: (unit, city, state, zip, country, lat, lon)."""
    city, state, zip_prefix, lat, lon = d.pick(vocab.CITIES)
    canadian = zip_prefix[0].isalpha()
    if canadian:
        zip_code = f"{zip_prefix} {d.below(10)}T{d.below(10)}"
    else:
        zip_code = f"{zip_prefix}{d.below(100):02d}"
        if d.chance(15):
            zip_code += f"-{d.below(10000):04d}"
    roll = d.below(100)
    if roll < 3:
        zip_code = ""
    country = "Canada" if canadian else ("USA" if roll >= 5 else ("" if roll < 4 else "US"))
    located = d.chance(70)
    return (
        d.pick(vocab.UNITS) if d.chance(20) else None,
        city,
        state,
        zip_code,
        country,
        round(lat + d.below(2000) / 10000 - 0.1, 6) if located else None,
        round(lon + d.below(2000) / 10000 - 0.1, 6) if located else None,
    )


def _street(h: int) -> str:
    names, types = vocab.STREET_NAMES, vocab.STREET_TYPES
    return f"{1 + h % 29999} {names[(h >> 16) % len(names)]} {types[(h >> 24) % len(types)]}"


class TenantGenerator:
    """Base sequences, pools and record builders for one tenant. Immutable after init."""

    def __init__(self, config: SandboxConfig, spec: TenantSpec) -> None:
        self.seed = config.seed
        self.spec = spec
        t = spec.tenant_id
        start = datetime_to_ticks(config.data_start)
        end = datetime_to_ticks(config.data_end)
        self.start_ticks = start
        self.end_ticks = end
        base = hash_key(config.seed, t)
        self._k_cust = hash_key(base, str_key("customers"))
        self.k_invoices = hash_key(base, str_key("invoices"))
        self._k_con = hash_key(base, str_key("contacts"))
        self._k_status = hash_key(base, str_key("status"))
        self._k_created = hash_key(base, str_key("created"))
        self._k_ccount = hash_key(base, str_key("contact-count"))
        period = config.export_page_size
        # Ids of different tenants overlap on purpose: records are only unique per tenant.
        self.customers = BaseSequence(
            self._k_cust,
            spec.customers,
            id_base=10_000_000 + (t % 7) * 1_009,
            stride=3,
            timeline=Timeline(
                self._k_cust, spec.customers, start, end, tie_permille=30, page_period=period
            ),
        )
        self.invoices = BaseSequence(
            self.k_invoices,
            spec.invoices,
            id_base=30_000_000 + (t % 5) * 997,
            stride=3,
            timeline=Timeline(
                self.k_invoices, spec.invoices, start, end, tie_permille=30, page_period=period
            ),
        )
        dense = spec.customers * CONTACT_SLOTS
        self.contacts = BaseSequence(
            self._k_con,
            dense,
            id_base=60_000_000 + (t % 3) * 1_013,
            stride=1,
            timeline=Timeline(self._k_con, dense, start, end, tie_permille=60, page_period=0),
        )
        self.business_units: list[Record] = [
            {"id": 1000 + n * 17 + t % 11, "name": name}
            for n, name in enumerate(vocab.BUSINESS_UNITS)
        ]
        self.pool_key = (config.seed, t)
        self._build_pools(base)
        self.invoice_writer = InvoiceWriter(self)

    # ---- pools -----------------------------------------------------------------------------

    def _build_pools(self, base: int) -> None:
        """Build the pools once per (seed, tenant) per process; sandboxes share them read-only."""
        cached = _POOL_CACHE.get(self.pool_key)
        if cached is not None:
            self.__dict__.update(cached)
            return
        d = Draw(hash_key(base, str_key("pools")))
        self.residential_names = [_residential_name(d) for _ in range(_POOL)]
        self.commercial_names = [_commercial_name(d) for _ in range(_POOL // 4)]
        self.places = [_place(d) for _ in range(_POOL)]
        self._cust_bundles = [self._customer_bundle(d) for _ in range(_BUNDLES)]
        self.invoice_bundles = [self._invoice_bundle(d) for _ in range(_BUNDLES)]
        self._con_bundles = [self._contact_bundle(d) for _ in range(_BUNDLES)]
        self.item_templates = [self._item_template(d) for _ in range(64)]
        names = ("residential_names", "commercial_names", "places", "_cust_bundles",
                 "invoice_bundles", "_con_bundles", "item_templates")  # fmt: skip
        if len(_POOL_CACHE) >= 64:
            _POOL_CACHE.clear()
        _POOL_CACHE[self.pool_key] = {name: getattr(self, name) for name in names}

    @staticmethod
    def _customer_bundle(d: Draw) -> Record:
        custom_fields: list[Record] = []
        if d.chance(45):
            for n in range(d.between(1, 2)):
                custom_fields.append(
                    {
                        "typeId": 500 + n * 7 + d.below(5),
                        "name": d.pick(vocab.CUSTOM_FIELD_NAMES),
                        "value": d.pick(vocab.CUSTOM_FIELD_VALUES),
                    }
                )
        credit = d.chance(15)
        return {
            "customFields": custom_fields,
            "taxExempt": d.chance(5),
            "tagTypeIds": [d.between(100, 140) for _ in range(d.below(3))],
            "doNotMail": d.chance(10),
            "doNotService": d.chance(3),
            "nationalAccount": d.chance(2),
            "createdById": d.pick((1, 2, 35, 1201, 98765)),
            "paymentTermId": d.between(1, 9) if d.chance(20) else None,
            "creditLimit": d.between(1000, 50000) * 1.0 if credit else None,
            "creditLimitBalance": d.between(0, 100000) / 100 if credit and d.chance(70) else None,
            "externalData": (
                [{"key": "legacyId", "value": f"L-{d.below(99999)}"}] if d.chance(10) else []
            ),
        }

    def _invoice_bundle(self, d: Draw) -> tuple[Record, int, int]:
        """(public fields, sales tax rate in basis points, due days of the payment term)."""
        rate_bp = d.pick(_TAX_BP)
        terms = d.pick(vocab.TERM_NAMES) if d.chance(95) else None
        review = d.pick(("NeedsReview", "Reviewed", "Reviewed", "Invoiced", "OnHold",
                         "PendingApproval", "Rejected", "ReadyForBilling"))  # fmt: skip
        public: Record = {
            "summary": d.pick(vocab.SUMMARIES) if d.chance(80) else None,
            "customFields": (
                None
                if d.chance(50)
                else [
                    {
                        "name": d.pick(vocab.CUSTOM_FIELD_NAMES),
                        "value": d.pick(vocab.CUSTOM_FIELD_VALUES),
                    }
                    for _ in range(d.below(3))
                ]
            ),
            "discountTotal": (
                None if d.chance(5) else ("0.00" if d.chance(85) else money(-d.between(500, 5000)))
            ),
            "importId": f"IMP-{d.below(100000)}" if d.chance(5) else None,
            "exportId": f"EXP-{d.below(100000)}" if d.chance(20) else None,
            "materialSkuId": 80_000 + d.below(500) if d.chance(10) else None,
            "syncStatus": d.pick(("Pending", "Posted", "Exported", None)),
            "budgetCodeId": d.below(50) + 1 if d.chance(5) else None,
            "salesTaxCode": (
                {
                    "id": 300 + rate_bp // 25,
                    "name": f"Tax {rate_bp / 100:g}%",
                    "taxRate": rate_bp / 10_000,
                }
                if rate_bp and d.chance(90)
                else None
            ),
            "taxZoneId": 40 + d.below(6) if d.chance(60) else None,
            "invoiceType": (
                {"id": 10 + d.below(5), "name": d.pick(vocab.INVOICE_TYPES)}
                if d.chance(60)
                else None
            ),
            "businessUnit": d.pick(self.business_units) if d.chance(97) else None,
            "termName": terms,
            "createdBy": d.pick(vocab.CREATED_BY) if d.chance(95) else None,
            "batch": (
                {
                    "id": 600 + d.below(300),
                    "number": f"B-{d.below(9000)}",
                    "name": d.pick(("Daily", None, "Batch – März")),
                }
                if d.chance(40)
                else None
            ),
            "royalty": self._royalty(d) if d.chance(70) else None,
            "employeeInfo": (
                {
                    "id": 7000 + d.below(40),
                    "name": d.pick(vocab.EMPLOYEES),
                    "modifiedOn": ts(1_600_000_000 * TICKS_PER_SECOND + d.below(10**15)),
                }
                if d.chance(80)
                else None
            ),
            "commissionEligibilityDate": f"2024-0{d.between(1, 9)}-1{d.below(10)}"
            if d.chance(10)
            else None,
            "sentStatus": d.pick(("NotSent", "Sent", "Sent", "Opened")),
            "reviewStatus": review,
            "assignedTo": (
                {"id": 7000 + d.below(40), "name": d.pick(vocab.EMPLOYEES)}
                if d.chance(30)
                else None
            ),
        }
        return public, rate_bp, {"Net 15": 15, "Net 30": 30, "Net 60": 60}.get(terms or "", 0)

    @staticmethod
    def _royalty(d: Draw) -> Record:
        """``Accounting.V2.RoyaltyResponse``: dated once due, ``sentOn`` once sent."""
        status = d.pick(("Pending", "Sent", "Failed", None))
        day = 1_600_000_000 * TICKS_PER_SECOND + d.below(10**15)
        return {
            "status": status,
            "date": ts(day) if status is not None and d.chance(90) else None,
            "sentOn": ts(day + d.below(10**12)) if status == "Sent" and d.chance(95) else None,
            "memo": d.pick(_ROYALTY_MEMOS) if status is not None and d.chance(30) else None,
        }

    @staticmethod
    def _contact_bundle(d: Draw) -> Record:
        preferences = None
        if d.chance(50):
            inv, stmt = d.chance(60), d.chance(40)
            preferences = {
                "jobRemindersEnabled": d.chance(70),
                "marketingUpdatesEnabled": d.chance(30),
                "invoiceStatementNotification": inv and stmt,
                "invoiceNotification": inv,
                "statementNotification": stmt,
            }
        return {
            "preferences": preferences,
            "memo": d.pick(vocab.CONTACT_MEMOS) if d.chance(25) else None,
            "_do_not_text": d.chance(10),
            "_formatted": d.chance(5),
            "_upper": d.chance(5),
            "_email": f"{d.pick(_EMAIL_LOCALS)}{{n}}@{d.pick(vocab.EMAIL_DOMAINS)}",
        }

    def _item_template(self, d: Draw) -> Record:
        """An ``Accounting.V2.InvoiceItemResponse`` without its per-invoice fields.

        Every optional field is filled a realistic share of the time (materials and equipment
        carry inventory and cost-of-sale data, services rarely do), so consumers meet each of
        them set and null.
        """
        kind = d.pick(("Service", "Service", "Material", "Material", "Equipment",
                       "PriceModifier", "Unspecified"))  # fmt: skip
        stocked = kind in ("Material", "Equipment")
        inventory = stocked and d.chance(60)
        sku = d.pick(vocab.SKU_NAMES)
        location_id = 300 + d.below(12) if inventory and d.chance(85) else None
        return {
            "description": d.pick(vocab.SUMMARIES),
            "budgetCodeId": d.between(1, 50) if d.chance(10) else None,
            "inventoryLocationId": location_id,
            "inventoryLocation": (
                d.pick(_INVENTORY_LOCATIONS) if location_id is not None and d.chance(95) else None
            ),
            "type": kind,
            "skuName": sku,
            "skuId": 80_000 + d.below(500),
            "inventory": inventory,
            "taxable": d.chance(60),
            "isChargeable": d.chance(95),
            "generalLedgerAccount": (
                {
                    "id": 11 if kind == "Service" else 12,
                    "name": "Income – Service" if kind == "Service" else "Income – Materials",
                    "number": "4000" if kind == "Service" else "4100",
                    "type": "Income",
                    "detailType": d.pick(_INCOME_DETAIL_TYPES) if d.chance(60) else None,
                }
                if d.chance(80)
                else None
            ),
            "costOfSaleAccount": (
                {
                    "id": 51,
                    "name": "Cost of Goods Sold",
                    "number": "5000" if d.chance(90) else None,
                    "type": "Cost of Goods Sold",
                    "detailType": "Supplies & Materials - COGS" if d.chance(70) else None,
                }
                if stocked and d.chance(75)
                else None
            ),
            "assetAccount": (
                {
                    "id": 13,
                    "name": "Inventory Asset",
                    "number": "1300" if d.chance(90) else None,
                    "type": "Other Current Asset",
                    "detailType": "Inventory" if d.chance(70) else None,
                }
                if inventory and d.chance(80)
                else None
            ),
            "membershipTypeId": 400 + d.below(8) if d.chance(8) else 0,
            "itemGroup": {"rootId": 12, "name": "Repairs"} if d.chance(20) else None,
            "displayName": f"{sku} (installed)" if d.chance(25) else None,
            "soldHours": round(d.below(80) / 4, 2) if d.chance(50) else None,
            "businessUnit": (
                {"id": unit["id"], "name": unit["name"] if d.chance(95) else None}
                if (unit := d.pick(self.business_units)) and d.chance(60)
                else None
            ),
            "createdById": d.pick((1, 2, 35, 1201, 98765)) if d.chance(70) else None,
            "displayInAmount": d.chance(30) if d.chance(50) else None,
            "importId": f"IMP-L{d.below(100000)}" if d.chance(3) else None,
            "exportId": f"EXP-L{d.below(100000)}" if d.chance(15) else None,
            "inventoryStatus": d.pick(_INVENTORY_STATUSES) if inventory and d.chance(70) else None,
            "addOn": d.chance(5),
            "memberPrice": money(d.between(1_000, 90_000)) if d.chance(25) else None,
            "technicianId": 7000 + d.below(40) if d.chance(60) else None,
            "installedEquipmentId": (
                900_000 + d.below(100_000) if kind == "Equipment" and d.chance(50) else None
            ),
            "estimateItemId": 3_000_000 + d.below(1_000_000) if d.chance(20) else None,
        }

    def sequence(self, kind: Kind) -> BaseSequence:
        if kind == "customers":
            return self.customers
        if kind == "invoices":
            return self.invoices
        return self.contacts

    # ---- cheap per-index attributes (no record built) -------------------------------------

    def customer_status(self, c: int) -> int:
        """0 active, 1 inactive (deactivated), 2 merged into another customer."""
        if c >= self.customers.count:
            return 0
        h = mix64(self._k_status ^ c) % 1000
        if h < 20 and c > 0:
            return 2
        if h < 50:
            return 1
        return 0

    def customer_merged_to(self, c: int) -> int | None:
        """The surviving (older, active) customer a merged base customer points to."""
        if self.customer_status(c) != 2:
            return None
        target = c - 1 - mix64(self._k_status ^ c ^ 0x5EED) % min(c, 25)
        while target >= 0 and self.customer_status(target) != 0:
            target -= 1
        return self.customers.id_of(target) if target >= 0 else None

    def customer_base_active(self, c: int) -> bool:
        return self.customer_status(c) == 0

    def customer_created(self, c: int) -> int:
        mod = self.customers.mod(c)
        h = mix64(self._k_created ^ self._k_cust ^ c)
        if h % 10 < 3:
            return mod
        return mod - (h >> 8) % (2 * _YEAR)

    def invoice_created(self, i: int, mod: int | None = None) -> int:
        if mod is None:
            mod = self.invoices.mod(i)
        h = mix64(self._k_created ^ self.k_invoices ^ i)
        if h % 10 < 4:
            return mod
        return mod - (h >> 8) % (90 * TICKS_PER_DAY)

    def invoice_base_active(self, i: int) -> bool:
        if i >= self.invoices.count:
            return True
        return mix64(self._k_status ^ self.k_invoices ^ i) % 100 >= 3

    def invoice_customer_index(self, i: int) -> int:
        """A customer that already existed when invoice ``i`` was written."""
        n_c = self.customers.count
        cmax = min(n_c, 1 + (i * n_c) // max(self.invoices.count, 1))
        return int(mix64(self.k_invoices ^ 0xC057 ^ i) % cmax)

    def contact_count(self, c: int) -> int:
        """0–3 contacts; 15 % of customers have none."""
        h = mix64(self._k_ccount ^ c) % 100
        return 0 if h < 15 else 1 if h < 50 else 2 if h < 80 else 3

    def contact_exists(self, j: int) -> bool:
        return j % CONTACT_SLOTS < self.contact_count(j // CONTACT_SLOTS)

    def contact_layout(self, c: int) -> tuple[tuple[str, bool], ...]:
        options = CONTACT_PATTERNS[self.contact_count(c)]
        if not options:
            return ()
        return options[int(mix64(self._k_ccount ^ 0xFACE ^ c) % len(options))]

    def contact_base_active(self, j: int) -> bool:
        layout = self.contact_layout(j // CONTACT_SLOTS)
        k = j % CONTACT_SLOTS
        return k < len(layout) and layout[k][1]

    def contact_created(self, j: int) -> int:
        mod = self.contacts.mod(j)
        return max(mod - mix64(self._k_created ^ self._k_con ^ j) % (30 * TICKS_PER_DAY), 0)

    # ---- customers -------------------------------------------------------------------------

    def identity_parts(self, c: int) -> tuple[bool, int, int, int]:
        """(commercial?, name pool index, place pool index, street hash) of customer ``c``."""
        h = mix64(self._k_cust ^ 0x1D ^ c)
        commercial = h % 100 < 20
        h >>= 8
        name_index = h % (len(self.commercial_names) if commercial else _POOL)
        h >>= 12
        return commercial, name_index, h % _POOL, h >> 12

    @staticmethod
    def street(h: int) -> str:
        """A street line; the vocabulary needs no JSON escaping (checked by the tests)."""
        return _street(h)

    def customer_identity(self, c: int, version: int = 0) -> tuple[str, str, Record]:
        """Name, type and bill-to address (``Crm.V2.Customers.CustomerAddress``)."""
        commercial, name_index, place_index, street_hash = self.identity_parts(c)
        names = self.commercial_names if commercial else self.residential_names
        name = names[name_index]
        if version:
            v = Draw(hash_key(self._k_cust, c, 0x1D, version))
            change = v.below(4)
            if change == 0 and not commercial:
                last = v.pick(vocab.LAST_NAMES)
                name = f"{last}, {v.pick(vocab.FIRST_NAMES)}" if v.chance(50) else last
            elif change == 1:
                place_index, street_hash = v.below(_POOL), v.below(1 << 40)
            elif change == 2 and commercial:
                name = f"{v.pick(vocab.COMPANY_STEMS)} {v.pick(vocab.COMPANY_KINDS)}, LLC"
        unit, city, state, zip_code, country, lat, lon = self.places[place_index]
        address = {
            "street": _street(street_hash),
            "unit": unit,
            "city": city,
            "state": state,
            "zip": zip_code,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        }
        return name, ("Commercial" if commercial else "Residential"), address

    def build_customer(
        self, c: int, customer_id: int, created: int, mod: int, version: int = 0
    ) -> Record:
        """``Crm.V2.ExportCustomerResponse`` (identical to ``CustomerResponse``)."""
        name, ctype, address = self.customer_identity(c, version)
        h = mix64(self._k_cust ^ 0xB0D7 ^ c ^ (version << 40))
        roll = h % 100
        h >>= 8
        balance: float | int
        if roll < 28:
            balance = 0
        elif roll < 55:
            balance = 0.0
        elif roll < 63:
            balance = -(1 + h % 50000) / 100
        else:
            balance = (1 + h % 2_500_000) / 100
        h >>= 24
        record: Record = {
            "id": customer_id,
            "active": self.customer_status(c) == 0,
            "name": name,
            "type": ctype,
            "address": address,
            "balance": balance,
        }
        record.update(self._cust_bundles[h % _BUNDLES])
        record["createdOn"] = ts(created)
        record["modifiedOn"] = ts(mod)
        record["mergedToId"] = self.customer_merged_to(c)
        return record

    def build_base_customer(self, c: int, mod: int | None = None, version: int = 0) -> Record:
        return self.build_customer(
            c,
            self.customers.id_of(c),
            self.customer_created(c),
            self.customers.mod(c) if mod is None else mod,
            version,
        )

    # ---- contacts --------------------------------------------------------------------------

    def build_contact(
        self,
        key: int,
        contact_type: str,
        active: bool,
        contact_id: int,
        customer_id: int,
        created: int,
        mod: int,
        version: int = 0,
    ) -> Record:
        """``Crm.V2.ExportCustomerContactResponse``.

        ``phoneSettings`` is required (non-null) by the schema even for emails; non-phones
        carry an empty number there.
        """
        h = mix64(self._k_con ^ key ^ (version << 44))
        bundle = self._con_bundles[h % _BUNDLES]
        h >>= 10
        if contact_type != "Email":
            digits = f"{201 + h % 789}{200 + (h >> 10) % 800}{(h >> 20) % 10000:04d}"
            value = digits
            if bundle["_formatted"]:
                value = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
            settings = {"phoneNumber": digits, "doNotText": bundle["_do_not_text"]}
        else:
            value = bundle["_email"].replace("{n}", str(h % 1000))
            if bundle["_upper"]:
                value = value.upper()
            settings = {"phoneNumber": "", "doNotText": False}
        return {
            "modifiedOn": ts(mod),
            "phoneSettings": settings,
            "createdOn": ts(created),
            "preferences": bundle["preferences"],
            "id": contact_id,
            "type": contact_type,
            "value": value,
            "memo": bundle["memo"],
            "customerId": customer_id,
            "active": active,
        }

    def build_base_contact(self, j: int, mod: int | None = None, version: int = 0) -> Record:
        c, k = divmod(j, CONTACT_SLOTS)
        contact_type, active = self.contact_layout(c)[k]
        return self.build_contact(
            j,
            contact_type,
            active,
            self.contacts.id_of(j),
            self.customers.id_of(c),
            self.contact_created(j),
            self.contacts.mod(j) if mod is None else mod,
            version,
        )

    # ---- invoices --------------------------------------------------------------------------

    def invoice_json(
        self,
        i: int,
        invoice_id: int,
        created: int,
        mod: int,
        customer_index: int,
        customer_id: int,
        version: int = 0,
    ) -> bytes:
        """``Accounting.V2.ExportInvoiceResponse`` (identical to ``InvoiceResponse``) as JSON."""
        text = self.invoice_writer.write(
            i, invoice_id, created, mod, customer_index, customer_id, version
        )
        return text.encode()

    def build_invoice(
        self,
        i: int,
        invoice_id: int,
        created: int,
        mod: int,
        customer_index: int,
        customer_id: int,
        version: int = 0,
    ) -> Record:
        """The same invoice as a dict (parsed from :meth:`invoice_json`, so they agree)."""
        record: Record = orjson.loads(
            self.invoice_json(i, invoice_id, created, mod, customer_index, customer_id, version)
        )
        return record

    def base_invoice_json(self, i: int) -> bytes:
        c = self.invoice_customer_index(i)
        mod = self.invoices.mod(i)
        return self.invoice_json(
            i, self.invoices.id_of(i), self.invoice_created(i, mod), mod, c, self.customers.id_of(c)
        )

    def build_base_invoice(self, i: int) -> Record:
        record: Record = orjson.loads(self.base_invoice_json(i))
        return record

    def max_base_mod(self) -> int:
        """Just after the newest base ``modifiedOn`` of any kind; mutations come later."""
        newest = self.start_ticks
        for seq in (self.customers, self.invoices, self.contacts):
            if seq.count:
                newest = max(newest, seq.mod(seq.count - 1))
        return newest + TICKS_PER_SECOND
