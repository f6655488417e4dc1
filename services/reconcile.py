"""Reconciliation of one credential: ServiceTitan's counts, sums, ids and a field-by-field
sample against the stored rows (``runtime.reconcile``).

Results are not stored: each call compares afresh. It calls ServiceTitan with the
credential's secret (rate-limited, costly), so it needs ``MANAGE`` like a sync does.
"""

from __future__ import annotations

from runtime.reconcile import ReconcileReport, reconcile
from runtime.servicetitan import client_config
from services.access import Action
from services.context import ServiceContext
from services.credentials import visible_credential
from services.errors import Invalid, Unavailable, checked_data_type, translated
from services.identity import Principal
from servicetitan.errors import ServiceTitanError

MAX_SAMPLE = 10_000


async def reconcile_credential(
    ctx: ServiceContext,
    principal: Principal,
    credential_id: int,
    *,
    data_type: str = "both",
    sample: int = 200,
) -> ReconcileReport:
    checked_data_type(data_type)
    if not 0 <= sample <= MAX_SAMPLE:
        raise Invalid(f"sample must be 0 to {MAX_SAMPLE}", "sample")
    await visible_credential(ctx, principal, credential_id, Action.MANAGE)
    try:
        with translated():
            return await reconcile(
                ctx.database,
                ctx.box,
                client_config(ctx.settings),
                credential_id,
                data_type=data_type,
                sample=sample,
            )
    except ServiceTitanError as error:
        raise Unavailable(f"could not read ServiceTitan: {error}") from None
