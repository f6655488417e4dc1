"""The page after a fetch's last one, requested before the next fetch activity asks for it.

Export pages come one after another (each needs the previous ``continueFrom``), so every gap
between two ``fetch_pages`` activities of a stream — the completion travelling to Temporal, a
workflow task, the next task dispatched — is time the download chain stands still. A fetch
that ends with more pages to come therefore starts downloading the next one at once and
leaves it here; the next fetch of the stream, routed to this worker, takes it instead of
asking again.

Only a shortcut: a page waiting here is not staged, so it is in flight like any download
(lost with the worker), and a page nobody takes (the sync stopped, the next fetch went to
another worker) is dropped after ``MAX_AGE_SECONDS`` or when ``MAX_PAGES`` others arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final

from activities import futures

MAX_PAGES: Final = 16
"""Downloads held at once (pages of up to ~2 MB each)."""
MAX_AGE_SECONDS: Final = 30.0
"""A download nobody took in this long is dropped (its stream moved on, or stopped)."""


@dataclass
class Prefetches:
    """Downloads started ahead, by the position they were requested from."""

    clock: Any = time.monotonic
    _held: OrderedDict[Hashable, tuple[float, asyncio.Future[Any]]] = field(
        default_factory=OrderedDict
    )

    def put(self, key: Hashable, download: asyncio.Future[Any]) -> None:
        self._expire()
        previous = self._held.pop(key, None)
        if previous is not None:
            futures.discard(previous[1])
        self._held[key] = (self.clock(), download)
        while len(self._held) > MAX_PAGES:
            _, (_, dropped) = self._held.popitem(last=False)
            futures.discard(dropped)

    def take(self, key: Hashable) -> asyncio.Future[Any] | None:
        """The download started from ``key``, once; None if there is none (any more)."""
        self._expire()
        held = self._held.pop(key, None)
        return held[1] if held is not None else None

    def _expire(self) -> None:
        now = self.clock()
        while self._held:
            key, (started, download) = next(iter(self._held.items()))
            if now - started < MAX_AGE_SECONDS:
                return
            del self._held[key]
            futures.discard(download)

    def __len__(self) -> int:
        return len(self._held)
