"""Garbage-collector settings for the worker: fewer, cheaper collections while pages stream.

A page of 1,000 invoices parses into some hundred thousand dicts and lists that live for a
page's time. With CPython's default thresholds (700, 10, 10) parsing one page runs a hundred
young collections that promote the page into the old generation, and every few pages a full
collection rescans the whole heap, including the hundreds of thousands of long-lived objects
of temporalio, SQLAlchemy and pydantic (about 0.1 s each on this project's benchmark machine).

So, once the worker's modules are imported: ``gc.freeze()`` moves everything alive into the
permanent generation, which full collections skip, and a young-generation threshold of 50,000
lets a page's objects die young instead of being promoted. Measured with ``python -m bench.ab``
(bench/README.md): about a tenth more records per second. Reference cycles are still found;
memory stays flat (the benchmark's memory scenario checks it).
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (50_000, 20, 10)


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
