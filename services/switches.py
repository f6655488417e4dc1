"""The kill switch: flip a credential's or a company's ``sync_enabled`` and its schedules.

A disabled credential starts no scheduled run (its schedule is paused), manual syncs are
refused, and a running sync stops at its next page boundary (the workflow checks the row).
"""

from __future__ import annotations

from dataclasses import dataclass

from db import credentials
from runtime import schedules
from runtime.sync_control import running_sync
from services.context import ServiceContext
from services.errors import translated
from services.identity import Principal


@dataclass(frozen=True)
class SwitchResult:
    scope: str  # "credential" | "company"
    id: int
    enabled: bool
    schedules: list[str]  # schedules paused or resumed
    running_syncs: list[int]  # credentials whose running sync stops (or keeps going)


async def apply_switch(
    ctx: ServiceContext,
    principal: Principal,
    *,
    credential_id: int | None = None,
    company_id: int | None = None,
    enabled: bool,
    reason: str | None,
) -> SwitchResult:
    """Write the switch (audited), then pause or resume the schedules it covers.

    The caller has checked access; Temporal is needed for the schedules (``Unavailable``
    when it is down, after the switch itself is stored: the row is what the sync obeys).
    """
    with translated():
        async with ctx.database.transaction() as connection:
            await credentials.set_sync_enabled(
                connection,
                credential_id=credential_id,
                company_id=company_id,
                enabled=enabled,
                reason=reason,
                actor=principal.actor,
            )
            ids = (
                [credential_id]
                if credential_id is not None
                else await credentials.credential_ids_of_company(connection, company_id or 0)
            )
    client = await ctx.client()
    touched = []
    for each in ids:
        schedule = await schedules.find(client, each)
        if schedule is None:
            continue
        note = f"{'enabled' if enabled else 'disabled'} by {principal.actor}"
        if enabled:
            await schedule.unpause(note=note)
        else:
            await schedule.pause(note=note + (f": {reason}" if reason else ""))
        touched.append(schedule.id)
    running = [each for each in ids if await running_sync(client, each) is not None]
    return SwitchResult(
        scope="credential" if credential_id is not None else "company",
        id=credential_id if credential_id is not None else company_id or 0,
        enabled=enabled,
        schedules=touched,
        running_syncs=running,
    )
