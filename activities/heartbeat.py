"""Heartbeating while an activity waits (rate limits, slow responses, long inserts).

A Temporal heartbeat both proves the worker is alive (so a crashed worker's activity is
retried after the heartbeat timeout, not after the much longer start-to-close timeout) and
carries details — here the page cursor and the position inside a page — that a retried attempt
and the Web UI can see. Details are a hint only; the cursor of record is in PostgreSQL.

Nothing is sent when an activity starts: Temporal arms the heartbeat timeout when the attempt
starts, so a worker that dies before its first beat is still noticed. A page usually takes a
fraction of a second, and a heartbeat call per activity would be a good share of the Temporal
server's requests. ``update`` only remembers phase details for the next periodic beat;
``send`` beats at once, for details a retried attempt must see (it is used just before an
activity fails).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from temporalio import activity


class Heartbeat:
    """Holds the latest details; a background task sends them every ``interval`` seconds."""

    def __init__(self, **details: Any) -> None:
        self.details: dict[str, Any] = dict(details)

    def update(self, **details: Any) -> None:
        """Remember details; the next periodic beat carries them."""
        self.details.update(details)

    def send(self, **details: Any) -> None:
        """Remember details and beat now (what the next attempt reads if this one fails)."""
        self.details.update(details)
        activity.heartbeat(self.details)


INTERVAL_SECONDS = 1.0
"""How often a running activity beats. Its heartbeat timeout is 5 s (workflows/sync.py); the
SDK forwards at most one beat per 80% of it (4 s) to Temporal."""


@asynccontextmanager
async def heartbeating(interval: float | None = None, **details: Any) -> AsyncIterator[Heartbeat]:
    beat = Heartbeat(**details)
    every = interval or INTERVAL_SECONDS

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            activity.heartbeat(beat.details)

    task = asyncio.create_task(loop())
    try:
        yield beat
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def previous_details() -> dict[str, Any]:
    """The last details a previous attempt of this activity heartbeated (or {})."""
    details = activity.info().heartbeat_details
    if details and isinstance(details[0], dict):
        return dict(details[0])
    return {}
