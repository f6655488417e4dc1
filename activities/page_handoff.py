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
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final

from activities import futures
from contracts.sync import PageRef
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


def handoff_key(ref: PageRef) -> Hashable:
    """A staged page's key: its id, with its place in the feed.

    The id alone is not enough: a crash restart of PostgreSQL empties the (UNLOGGED) staging
    table and starts its ids over, so an id can come round again for another page while
    this worker still holds the first.
    """
    return (ref.page_id, ref.stream, ref.cursor_in)


@dataclass
class PageHandoff:
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    _pages: OrderedDict[Hashable, HandedPage] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def put(self, key: Hashable, page: HandedPage) -> None:
        """Keep a staged page; evict the oldest entries beyond the budget."""
        if len(page.raw) > self.budget_bytes:
            page.discard()
            return
        replaced = self.take(key)
        if replaced is not None:
            replaced.discard()
        self._pages[key] = page
        self._bytes += len(page.raw)
        while self._bytes > self.budget_bytes:
            _, evicted = self._pages.popitem(last=False)
            self._bytes -= len(evicted.raw)
            evicted.discard()

    def take(self, key: Hashable) -> HandedPage | None:
        """The page, once; None when this worker does not hold it."""
        page = self._pages.pop(key, None)
        if page is not None:
            self._bytes -= len(page.raw)
        return page

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size_bytes(self) -> int:
        return self._bytes
