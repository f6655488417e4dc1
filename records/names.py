"""Split a ServiceTitan customer name into first and last name (the seed's processCustomerNames).

ServiceTitan keeps one free-text ``name`` per customer; ``members_stream`` and
``invoices_stream`` also want ``customer_first_name`` / ``customer_last_name``. Splitting is
only meaningful for people, so it depends on the customer type:

- ``Residential``: the name is split (rules below).
- ``Commercial``, ``None`` or any other type: not split, both parts ``None``. A company name
  has no first name, and guessing one would put junk into a column people mail-merge from.

Residential rules (whitespace is normalised first; case and unicode are kept as written):

========================  ===============  ==============  ====================================
name                      first            last            rule
========================  ===============  ==============  ====================================
``Smith, John``           ``John``         ``Smith``       "Last, First"
``John Smith``            ``John``         ``Smith``       "First Last"
``John Q. Public``        ``John Q.``      ``Public``      middle names go with the first name
``Smith, John A.``        ``John A.``      ``Smith``
``John Smith Jr.``        ``John``         ``Smith Jr.``   suffixes stay with the last name
``John Smith, III``       ``John``         ``Smith III``
``Smith, John, Jr.``      ``John``         ``Smith Jr.``
``Maria de la Cruz``      ``Maria``        ``de la Cruz``  particles start the last name
``Van Morrison``          ``Van``          ``Morrison``    ...but never take the first word
``Mr. John Smith``        ``John``         ``Smith``       leading honorifics are dropped
``John & Jane Smith``     ``John & Jane``  ``Smith``       couples share the last name
``Madonna``               ``None``         ``Madonna``     a single word is a last name
``""``, ``None``, blanks  ``None``         ``None``
========================  ===============  ==============  ====================================

Invoices carry only the customer's id and name, not its type. ``split_invoice_customer_name``
therefore uses the type when the caller knows it and otherwise splits only names that look
unambiguously like a person (see ``looks_like_person_name``): a wrong split of "ABC Plumbing"
into "ABC" / "Plumbing" is worse than an empty first name.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from servicetitan.models import CustomerType

PersonName = tuple[str | None, str | None]
"""(first name, last name)."""

RESIDENTIAL: Final = CustomerType.RESIDENTIAL.casefold()

_SUFFIXES: Final = frozenset(
    {"jr", "sr", "ii", "iii", "iv", "2nd", "3rd", "4th", "esq", "md", "phd", "dds", "dmd", "dvm"}
)
"""Generational and professional suffixes. A lone "V" is not one: it is more often an initial."""

_HONORIFICS: Final = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev"})

_PARTICLES: Final = frozenset(
    {
        "van", "von", "der", "den", "de", "del", "della", "delle", "dello", "da", "das",
        "dos", "du", "di", "la", "le", "lo", "los", "las", "st", "ste", "saint", "ter",
        "ten", "bin", "ibn",
    }
)  # fmt: skip
"""Lower-case words that begin a family name ("van der Berg", "de la Cruz", "St. John")."""

_BUSINESS_WORDS: Final = frozenset(
    {
        # legal forms
        "inc", "llc", "ltd", "limited", "co", "corp", "corporation", "company", "companies",
        "lp", "llp", "pllc", "pc", "plc", "pa", "dba", "gmbh", "trust", "estate", "foundation",
        # organisations and places
        "group", "holdings", "partners", "partnership", "associates", "association", "assn",
        "hoa", "condo", "condos", "condominium", "condominiums", "apartments", "apts",
        "properties", "property", "management", "mgmt", "realty", "homes", "builders",
        "construction", "contractors", "contracting", "services", "service", "solutions",
        "systems", "enterprises", "industries", "international", "church", "ministries",
        "school", "academy", "university", "college", "hospital", "clinic", "medical", "dental",
        "center", "centre", "bank", "fund", "society", "club", "restaurant", "cafe", "hotel",
        "motel", "store", "shop", "market", "supply", "county", "city", "district",
        "department", "dept", "office", "offices", "authority", "agency", "government",
        "rentals", "rental", "investments", "capital", "ventures", "cooperative", "farms",
        "ranch", "motors", "auto", "automotive", "storage", "plaza", "mall", "residence",
        "family", "household", "tenant", "tenants", "owner", "occupant", "resident",
        # trades (the customers of home-service contractors)
        "plumbing", "heating", "cooling", "air", "hvac", "electric", "electrical",
        "mechanical", "roofing", "pest", "landscaping",
        # words a person's name does not contain
        "the", "of", "and", "for", "at", "unknown", "customer", "test",
    }
)  # fmt: skip
"""Lower-case words that mark a name as not a single person's (used only when type is unknown)."""

_PERSON_NAME_CHARACTERS: Final = re.compile(r"(?:[^\W\d_]|[\s,.'’-])+")
"""Letters (any script), whitespace and the punctuation of names: O'Brien, Jean-Luc, St. John."""


def process_customer_names(name: str | None, customer_type: str | None) -> PersonName:
    """First and last name for a customer of the given ServiceTitan type (see module docs)."""
    if customer_type is None or customer_type.casefold() != RESIDENTIAL:
        return None, None
    return split_person_name(name)


def split_invoice_customer_name(name: str | None, customer_type: str | None = None) -> PersonName:
    """First and last name for an invoice's customer, whose type the invoice does not carry.

    With a known type this is ``process_customer_names``; without one, the name is split only
    when ``looks_like_person_name`` says so.
    """
    if customer_type is not None:
        return process_customer_names(name, customer_type)
    if not name:
        return None, None
    parsed = _analyse(name)
    if parsed is None or not _looks_like_person(name, parsed):
        return None, None
    return _first_last(parsed)


def split_person_name(name: str | None) -> PersonName:
    """Split a person's name: "Last, First Middle" or "First Middle Last" (see module docs)."""
    parsed = _analyse(name) if name else None
    if parsed is None:
        return None, None
    return _first_last(parsed)


def looks_like_person_name(name: str) -> bool:
    """True when a name is very probably one person's, judged from the text alone.

    Conservative on purpose. The name must consist of letters, spaces and ``, . ' ’ -`` only
    (no digits, ``&``, ``/``…); it must have two to four name words, particles such as "de la"
    aside; in "Last, First" form each side has one to three words; and no word may be one that
    businesses, households or placeholders use ("LLC", "Plumbing", "Family", "Tenant"…).
    """
    parsed = _analyse(name)
    return parsed is not None and _looks_like_person(name, parsed)


class _ParsedName(NamedTuple):
    given: list[str]
    """First and middle names, honorifics removed."""
    family: list[str]
    """Family name words, particles included."""
    suffixes: list[str]
    """Generational and professional suffixes in the order written."""
    parts: int
    """Non-empty comma-separated parts in the original text."""


def _analyse(name: str) -> _ParsedName | None:
    """Tokenise a name once into given names, family name and suffixes."""
    if "," in name:
        parts = [part for part in (piece.strip() for piece in name.split(",")) if part]
    else:
        parts = [name] if name and not name.isspace() else []
    if not parts:
        return None
    count = len(parts)
    trailing: list[str] = []
    while len(parts) > 1 and _is_suffix_phrase(parts[-1]):
        trailing[:0] = parts.pop().split()
    if len(parts) == 1:
        tokens, suffixes = _split_off_suffixes(_without_honorifics(parts[0].split()))
        start = len(tokens) - 1
        while start > 1 and tokens[start - 1].casefold().strip(".") in _PARTICLES:
            start -= 1
        given, family = tokens[:start], tokens[start:]
    else:
        family = parts[0].split()
        given, suffixes = _split_off_suffixes(_without_honorifics(", ".join(parts[1:]).split()))
    return _ParsedName(given, family, suffixes + trailing if trailing else suffixes, count)


def _first_last(parsed: _ParsedName) -> PersonName:
    first = " ".join(parsed.given) or None
    last = " ".join(parsed.family + parsed.suffixes) or None
    return first, last


def _looks_like_person(name: str, parsed: _ParsedName) -> bool:
    if parsed.parts > 3 or _PERSON_NAME_CHARACTERS.fullmatch(name) is None:
        return False
    given, family = parsed.given, parsed.family
    if parsed.parts > 1 and not (1 <= len(given) <= 3 and 1 <= len(family) <= 3):
        return False
    name_words = 0
    for index, word in enumerate(given + family):
        key = word.casefold().strip(".")
        if key in _BUSINESS_WORDS or not word.strip(".'’-"):  # a word of punctuation only
            return False
        if index == 0 or key not in _PARTICLES:
            name_words += 1
    return 2 <= name_words <= 4


def _without_honorifics(tokens: list[str]) -> list[str]:
    """Drop leading "Mr."/"Dr."… while at least one other word remains."""
    if len(tokens) < 2 or _key(tokens[0]) not in _HONORIFICS:
        return tokens
    start = 1
    while start < len(tokens) - 1 and _key(tokens[start]) in _HONORIFICS:
        start += 1
    return tokens[start:]


def _split_off_suffixes(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Trailing suffixes ("Jr.", "III"), keeping at least one other word in front of them."""
    end = len(tokens)
    if end < 2 or _key(tokens[-1]) not in _SUFFIXES:
        return tokens, []
    end -= 1
    while end > 1 and _key(tokens[end - 1]) in _SUFFIXES:
        end -= 1
    return tokens[:end], tokens[end:]


def _is_suffix_phrase(text: str) -> bool:
    tokens = text.split()
    return bool(tokens) and all(_key(token) in _SUFFIXES for token in tokens)


def _key(token: str) -> str:
    """A token for comparison with the word lists: case-folded, without trailing dots."""
    return token.casefold().strip(".")
