"""Probes for load balancers and orchestrators; no authentication, no data.

``/healthz``: the process answers. ``/readyz``: PostgreSQL answers (503 otherwise); Temporal's
state is reported but does not make the API unready, since reads keep working without it.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.dependencies import Context
from api.dtos.base import CamelModel

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_SECONDS = 3.0

Status = Literal["up", "down"]


class Health(CamelModel):
    status: Literal["ok"] = "ok"


class Readiness(CamelModel):
    status: Literal["ready", "unready"]
    database: Status
    temporal: Status


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    summary="PostgreSQL is reachable (Temporal reported, not required)",
    responses={503: {"model": Readiness, "description": "PostgreSQL is not reachable"}},
)
async def readyz(context: Context, response: Response) -> Readiness:
    database: Status = "down"
    temporal: Status = "down"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            async with context.database.transaction() as connection:
                await connection.execute(text("SELECT 1"))
        database = "up"
    except Exception:  # any failure means "not reachable"
        database = "down"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            client = await context.client()
            await client.service_client.check_health()
        temporal = "up"
    except Exception:
        temporal = "down"
    ready = database == "up"
    response.status_code = 200 if ready else 503
    return Readiness(status="ready" if ready else "unready", database=database, temporal=temporal)
