"""Fetched pages handed from ``fetch_pages`` to ``map_and_insert_pages`` inside one worker.

The fetch has the page's response bytes, and the apply usually runs on the same worker a
moment later. Handing over the bytes (and for invoices the customer ids whose types the
mapping needs) spares the apply reading the staged body back from PostgreSQL and
decompressing it. The fetch also starts the page's mapping (``prepared``, see
``activities.prepare``), so the page is usually mapped by the time its apply comes.

Only a shortcut: the staged body in PostgreSQL stays the page of record. An apply on another
worker, after a restart or on a retry (entries are taken once), or of an evicted entry reads
the staged body. Entries are bounded by the size of their raw bodies, so memory depends on
how many syncs run at once, never on tenant size.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from activities import futures
from records.prepared import PreparedPage

DEFAULT_BUDGET_BYTES: Final = 64 * 1024 * 1024
"""Response bytes kept. One sync keeps at most the batch fetched ahead (four pages of ~2 MB);
the budget covers several concurrent syncs of big pages; beyond it the apply reads staging."""


@dataclass(frozen=True)
class HandedPage:
    raw: bytes
    customer_ids: list[str]
    """Invoices: the customers whose types the mapping needs (empty for other streams)."""
    prepared: asyncio.Future[PreparedPage] | None = None
    """The page's mapping, once started (``activities.prepare``)."""
    context: tuple[Any, ...] | None = None
    """The row context ``prepared`` was mapped with (the apply checks it is still current)."""

    def discard(self) -> None:
        """Stop a mapping nobody will use, and retrieve its failure if it had one."""
        futures.discard(self.prepared)


@dataclass
class PageHandoff:
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    _pages: OrderedDict[int, HandedPage] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def put(self, page_id: int, page: HandedPage) -> None:
        """Keep a staged page; evict the oldest entries beyond the budget."""
        if len(page.raw) > self.budget_bytes:
            page.discard()
            return
        replaced = self.take(page_id)
        if replaced is not None:
            replaced.discard()
        self._pages[page_id] = page
        self._bytes += len(page.raw)
        while self._bytes > self.budget_bytes:
            _, evicted = self._pages.popitem(last=False)
            self._bytes -= len(evicted.raw)
            evicted.discard()

    def take(self, page_id: int) -> HandedPage | None:
        """The page, once; None when this worker does not hold it."""
        page = self._pages.pop(page_id, None)
        if page is not None:
            self._bytes -= len(page.raw)
        return page

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size_bytes(self) -> int:
        return self._bytes
