"""Alerts of the caller's companies: stale credentials, repeated failures, reject spikes.

The rules are ``db.reports``'s (the same as ``starter.py alerts`` and the Prometheus gauges);
staleness thresholds come from the schedules, so Temporal is needed (``Unavailable``).
"""

from __future__ import annotations

from dataclasses import replace

from runtime import alerting
from runtime.alerting import AlertState
from services.access import visible
from services.context import ServiceContext
from services.identity import Principal


async def alerts(ctx: ServiceContext, principal: Principal) -> AlertState:
    state = await alerting.current_state(ctx.database, await ctx.client(), ctx.settings)
    health = [h for h in state.health if visible(principal, h.company_id)]
    mine = {h.credential_id for h in health}
    return replace(
        state,
        health=health,
        alerts=[a for a in state.alerts if a.credential_id in mine],
        thresholds={k: v for k, v in state.thresholds.items() if k in mine},
    )
