"""Mapping throughput per stream (prints records/s; asserts nothing about speed).

The full measurement is ``python -m bench.mapping``; this runs a smaller one so that a
regression shows up in test output.
"""

from __future__ import annotations

import pytest

from bench.mapping import measure


@pytest.mark.slow
def test_mapping_throughput(capsys):
    results = measure(records=5_000, page_size=1_000, repeat=2)
    assert [name for name, _, _ in results] == ["invoices", "customers", "contacts"]
    with capsys.disabled():
        print()
        for name, mapping, parsing in results:
            print(f"  {name:10} map {mapping:>10,.0f} records/s (orjson.loads {parsing:>10,.0f}/s)")
