"""The API's routers, one module per resource; mounted under ``/api/servicetitan``."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import credentials, reports, schedules, syncs

# schedules before syncs: "/sync/schedules" must not be read as "/sync/{credentialId}".
ROUTERS: list[APIRouter] = [credentials.router, schedules.router, syncs.router, reports.router]
