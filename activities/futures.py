"""Dropping work nobody will wait for, without asyncio's "exception was never retrieved"."""

from __future__ import annotations

import asyncio
from typing import Any


def discard(future: asyncio.Future[Any] | None) -> None:
    """Cancel ``future`` if it is still running; retrieve its failure if it already failed.

    Work started ahead (a page's mapping, the next page's download) is dropped when its page
    is not used after all. A cancelled future needs nothing more; a finished one that failed
    must have its exception retrieved, or asyncio logs it as lost when it is collected.
    """
    if future is None:
        return
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()
