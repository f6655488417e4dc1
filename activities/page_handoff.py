"""Parsed pages handed from ``fetch_page`` to ``map_and_insert`` inside one worker process.

``fetch_page`` must parse a page anyway (to check the envelope, count the records and read
``continueFrom``), and ``map_and_insert`` usually runs on the same worker a moment later. Keeping
the parsed records in memory between the two spares the apply a PostgreSQL read of the staged
body, its decompression and a second JSON parse — about a tenth of the worker's time per page.

This is only a shortcut: the staged body in PostgreSQL stays the page of record. When the apply
runs on another worker, after a restart, or on a retry (entries are taken once), or when the
entry was evicted, the apply reads the staged body as before. Entries are bounded by the size
of their raw bodies, so memory depends on how many syncs run at once, never on tenant size.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_BUDGET_BYTES: Final = 32 * 1024 * 1024
"""Raw bytes of the pages kept (parsed, they take several times that). One sync keeps at most
the one page fetched ahead; the budget covers a dozen or so concurrent syncs of big pages."""


@dataclass
class PageHandoff:
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    _pages: OrderedDict[int, tuple[list[Any], int]] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def put(self, page_id: int, records: list[Any], raw_size: int) -> None:
        """Keep a staged page's parsed records; evict the oldest entries beyond the budget."""
        if raw_size > self.budget_bytes:
            return
        self.take(page_id)
        self._pages[page_id] = (records, raw_size)
        self._bytes += raw_size
        while self._bytes > self.budget_bytes:
            _, (_, size) = self._pages.popitem(last=False)
            self._bytes -= size

    def take(self, page_id: int) -> list[Any] | None:
        """The page's records, once; None when this worker does not hold them."""
        entry = self._pages.pop(page_id, None)
        if entry is None:
            return None
        self._bytes -= entry[1]
        return entry[0]

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size_bytes(self) -> int:
        return self._bytes
