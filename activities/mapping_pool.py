"""Pages are mapped in a separate process, beside the worker's event loop.

The event loop runs every activity of the worker: HTTP, staging, COPY, bookkeeping. Mapping
and validating a page is pure CPU: on the loop, nothing else would move meanwhile. So
``records.prepared.prepare_page`` runs in a small process pool (``SYNC_MAPPING_PROCESSES``,
default 1): the loop sends the page's bytes, awaits, and meanwhile fetches and writes; it
gets back COPY-ready bytes, which also spares it formatting the rows.

The pool is an optimisation only. With ``SYNC_MAPPING_PROCESSES=0``, or when a pool process
died (``BrokenProcessPool``: killed, out of memory), the page is prepared on the loop, and a
new pool is started for the next page. Pool processes ignore Ctrl-C (the worker stops them),
and exit on their own when the worker is gone (SIGKILL), so they never outlive it.

One pool per process (``shared_mapping_pool``), like the HTTP connection pool: every set of
activity dependencies in the process uses it, and ``close_shared_mapping_pool`` stops it.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from core.logging import get_logger
from records.prepared import PreparedPage, prepare_page

log = get_logger(__name__)
T = TypeVar("T")


class MappingPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the pool processes now rather than on the first page (they import for ~1 s)."""
        if self.processes > 0 and self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_pool_process_setup,
                initargs=(os.getpid(),),
            )
            for _ in range(self.processes):
                self._executor.submit(_ready)

    async def prepare(
        self,
        stream: str,
        raw: bytes,
        customer_types: Mapping[int, str | None] | None,
        prefix: Sequence[Any],
        batch_size: int,
    ) -> PreparedPage:
        if self.processes > 0:
            self.start()
            assert self._executor is not None
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(
                    self._executor,
                    _without_collections,
                    prepare_page,
                    stream,
                    raw,
                    dict(customer_types) if customer_types else None,
                    tuple(prefix),
                    batch_size,
                )
            except BrokenProcessPool:
                log.warning("a mapping process died; mapping this page in the worker")
                self.close()
        return prepare_page(stream, raw, customer_types, prefix, batch_size)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_shared: MappingPool | None = None


def shared_mapping_pool(processes: int) -> MappingPool:
    """The process's mapping pool (a new one if the number of processes changed)."""
    global _shared
    if _shared is None or _shared.processes != processes:
        if _shared is not None:
            _shared.close()
        _shared = MappingPool(processes)
    return _shared


def close_shared_mapping_pool() -> None:
    global _shared
    pool, _shared = _shared, None
    if pool is not None:
        pool.close()


def _ready() -> bool:
    return True


def _without_collections(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` with the cyclic garbage collector paused (in a pool process).

    Why: a decoded page is tens of thousands of new objects that all stay alive until the
    page is mapped, so the collector would run many times per page and find nothing: decoding
    and mapping create no reference cycles. The page's objects are freed by reference counting when
    it is done; the collector resumes then and collects any cycle the next time it runs, so
    memory stays bounded.
    """
    gc.disable()
    try:
        return function(*args)
    finally:
        gc.enable()


def _pool_process_setup(parent_pid: int) -> None:
    """In each pool process: ignore Ctrl-C, exit when the worker is gone, imports frozen."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.collect()
    gc.freeze()  # the imported modules: never garbage, never worth scanning again

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()
