"""Name splitting: residential names split, commercial and unknown kept whole, invoices guessed."""

from __future__ import annotations

import pytest

from records.names import (
    looks_like_person_name,
    process_customer_names,
    split_invoice_customer_name,
    split_person_name,
)

RESIDENTIAL_SPLITS = [
    # "Last, First" and "First Last"
    ("Smith, John", "John", "Smith"),
    ("John Smith", "John", "Smith"),
    # middle names and initials go with the first name
    ("John Q. Public", "John Q.", "Public"),
    ("Smith, John A.", "John A.", "Smith"),
    ("Mary Ann Louise Jones", "Mary Ann Louise", "Jones"),
    # suffixes stay with the last name
    ("John Smith Jr.", "John", "Smith Jr."),
    ("John Smith Jr", "John", "Smith Jr"),
    ("John Smith III", "John", "Smith III"),
    ("John Smith, III", "John", "Smith III"),
    ("Smith, John, Jr.", "John", "Smith Jr."),
    ("Smith, John Jr.", "John", "Smith Jr."),
    ("Smith Jr., John", "John", "Smith Jr."),
    ("Martin Luther King Jr. PhD", "Martin Luther", "King Jr. PhD"),
    ("John Smith V", "John Smith", "V"),  # a lone V is an initial, not "the fifth"
    # particles start the last name, but never take the first word
    ("Maria de la Cruz", "Maria", "de la Cruz"),
    ("Juan Carlos de la Cruz", "Juan Carlos", "de la Cruz"),
    ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
    ("Anne van der Berg", "Anne", "van der Berg"),
    ("Mary St. John", "Mary", "St. John"),
    ("Van Morrison", "Van", "Morrison"),
    ("De Niro, Robert", "Robert", "De Niro"),
    # honorifics are dropped while a name remains
    ("Mr. John Smith", "John", "Smith"),
    ("Dr John Smith", "John", "Smith"),
    ("Smith, Mrs. Jane", "Jane", "Smith"),
    # couples, hyphens, apostrophes
    ("John & Jane Smith", "John & Jane", "Smith"),
    ("Jean-Luc Picard", "Jean-Luc", "Picard"),
    ("O'Brien, Patrick", "Patrick", "O'Brien"),
    # whitespace is normalised, case and unicode kept
    ("  John \t  Smith  ", "John", "Smith"),
    ("Smith ,John", "John", "Smith"),
    ("John\u00a0Smith", "John", "Smith"),
    ("John\u2003\nQ.  Public", "John Q.", "Public"),
    ("JOSÉ ÑÚÑEZ", "JOSÉ", "ÑÚÑEZ"),
    ("Søren Kierkegaard", "Søren", "Kierkegaard"),
    ("王 小明", "王", "小明"),
    # a single word is a last name
    ("Madonna", None, "Madonna"),
    ("Smith,", None, "Smith"),
    ("Smith, Jr.", None, "Smith Jr."),
    ("Dr.", None, "Dr."),
    # nothing to split
    ("", None, None),
    ("   ", None, None),
    (",", None, None),
    (None, None, None),
]


@pytest.mark.parametrize(("name", "first", "last"), RESIDENTIAL_SPLITS)
def test_residential_names_are_split(name, first, last):
    assert process_customer_names(name, "Residential") == (first, last)
    assert split_person_name(name) == (first, last)


@pytest.mark.parametrize("customer_type", ["Commercial", None, "Government", ""])
@pytest.mark.parametrize("name", ["Smith, John", "John Smith", "ABC Plumbing LLC", None])
def test_commercial_and_unknown_types_are_not_split(name, customer_type):
    assert process_customer_names(name, customer_type) == (None, None)


def test_customer_type_is_matched_without_regard_to_case():
    assert process_customer_names("John Smith", "residential") == ("John", "Smith")


INVOICE_NAMES_SPLIT = [
    ("Smith, John", "John", "Smith"),
    ("John Smith", "John", "Smith"),
    ("JOHN SMITH", "JOHN", "SMITH"),
    ("John Q. Public", "John Q.", "Public"),
    ("O'Brien, Patrick", "Patrick", "O'Brien"),
    ("Juan Carlos de la Cruz", "Juan Carlos", "de la Cruz"),
    ("Van Morrison", "Van", "Morrison"),
    ("John Smith, Jr.", "John", "Smith Jr."),
    ("Mr. John Smith", "John", "Smith"),
    ("Grace Park", "Grace", "Park"),
]

INVOICE_NAMES_KEPT_WHOLE = [
    "ABC Plumbing",
    "Acme, Inc.",
    "Acme Inc",
    "Smith & Sons",
    "John & Jane Smith",  # could be a couple or a firm: unknown, so not guessed
    "Smith and Wesson",
    "The Smith Family",
    "Smith Residence",
    "123 Main St",
    "Unit 4B Tenant",
    "Costco",
    "Madonna",
    "First Baptist Church",
    "Lakeside HOA",
    "Jones Property Management",
    "Bob's HVAC",
    "John Smith (rental)",
    "john@example.com",
    "Smith, John, Mary, Sue",
    "A B C D E",
    "John - Smith",
    "",
    None,
]


@pytest.mark.parametrize(("name", "first", "last"), INVOICE_NAMES_SPLIT)
def test_invoice_names_that_look_like_a_person_are_split(name, first, last):
    assert looks_like_person_name(name)
    assert split_invoice_customer_name(name) == (first, last)


@pytest.mark.parametrize("name", INVOICE_NAMES_KEPT_WHOLE)
def test_invoice_names_that_may_not_be_a_person_are_not_split(name):
    if name is not None:
        assert not looks_like_person_name(name)
    assert split_invoice_customer_name(name) == (None, None)


def test_a_known_customer_type_overrides_the_invoice_heuristic():
    assert split_invoice_customer_name("ABC Plumbing", "Residential") == ("ABC", "Plumbing")
    assert split_invoice_customer_name("John Smith", "Commercial") == (None, None)
    assert split_invoice_customer_name("Costco", "Residential") == (None, "Costco")
