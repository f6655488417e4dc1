"""A running activity's heartbeats reach Temporal well inside its heartbeat timeout.

The SDK holds beats back (by default up to 80% of the timeout: 4 of 5 s), which left a beat 1 s
to reach the server before the deadline; a busy worker or server missed it, and Temporal failed
attempts that were still running. The worker forwards a beat at least every 2 s.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime

from sandbox import endpoints
from tests.sync.conftest import TENANT
from tests.sync.harness import SyncHarness

SLOW_PAGE_SECONDS = 9.0


async def test_a_slow_page_s_fetch_is_heard_from_every_two_seconds(harness: SyncHarness) -> None:
    credential = await harness.add_tenant(TENANT)
    harness.sandbox.set_faults(
        latency_seconds=SLOW_PAGE_SECONDS, endpoints=frozenset({endpoints.EXPORT_CUSTOMERS})
    )
    handle = await harness.start(credential)
    beats: dict[str, list[datetime]] = {}
    deadline = time.monotonic() + SLOW_PAGE_SECONDS
    while time.monotonic() < deadline:
        for pending in (await handle.describe()).raw_description.pending_activities:
            if pending.HasField("last_heartbeat_time"):
                seen = beats.setdefault(pending.activity_id, [])
                beat = pending.last_heartbeat_time.ToDatetime()
                if beat not in seen:
                    seen.append(beat)
        await asyncio.sleep(0.2)
    harness.sandbox.set_faults(latency_seconds=0.0)
    assert (await handle.result()).status == "completed"

    longest: list[datetime] = max(beats.values(), key=len, default=[])
    slowest = sorted(longest)
    assert len(slowest) >= 3, f"the slow fetch beat {len(slowest)} times in {SLOW_PAGE_SECONDS} s"
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slowest)]
    assert max(gaps) <= 3.5, f"heartbeats reached Temporal {gaps} s apart (timeout 5 s)"
