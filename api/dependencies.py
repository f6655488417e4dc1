"""What a route may ask FastAPI for: the service context and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import Caller, current_principal
from services.context import ServiceContext

__all__ = ["Caller", "Context", "current_principal", "service_context"]


def service_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(service_context)]
