"""Garbage collection in the worker: imports frozen, thresholds left alone.

``gc.freeze()`` once the worker's modules are imported moves everything alive then (the
hundreds of thousands of long-lived objects of temporalio, SQLAlchemy, pydantic) into the
permanent generation, which full collections skip, so a full collection costs what the
worker's working set costs, not what its libraries cost.

The thresholds stay CPython's defaults on purpose: with a higher young-generation threshold,
short-lived reference cycles that hold an HTTP response survive until a rare full collection,
and the worker's peak memory grows with the size of the sync, which the memory benchmark
refuses (bench/README.md has the figures).
"""

from __future__ import annotations

import gc


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
