"""``create_app``: the FastAPI application, its error handling, middleware and routes.

The app holds no rule of its own: routes call ``services`` with the caller's ``Principal``.
It owns the transport's concerns only: authentication, problem documents, a body size limit,
CORS (off unless ``API_CORS_ORIGINS`` is set) and the OpenAPI document (``api.openapi``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from api import openapi, problems
from api.auth import Authenticator
from api.middleware import GuardMiddleware
from api.ratelimit import FailureLimiter
from api.routes import ROUTERS, health
from api.wiring import build_context
from core.settings import Settings
from services.context import ServiceContext
from services.errors import ServiceError
from services.jwt_auth import JwtVerifier
from servicetitan.http import close_shared_http_client

PREFIX = "/api/servicetitan"
TITLE = "ServiceTitan sync API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Manage ServiceTitan credentials, start and watch syncs, read history, dashboards, "
    "quarantined records, alerts and the audit log, for the companies your token covers. "
    "Authenticate with `Authorization: Bearer <token>`. Every error is an RFC 9457 problem "
    "document (`application/problem+json`) whose `type` names its kind. "
    "Roles and endpoints: docs/api.md."
)


def create_app(settings: Settings, *, context: ServiceContext | None = None) -> FastAPI:
    """The API. Without ``context`` it builds its own on start-up and closes it on shutdown."""

    jwt = JwtVerifier.from_settings(settings)  # a bad JWT configuration stops us here
    limiter = FailureLimiter(settings.api_auth_failures_per_minute)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = None
        active = context
        if active is None:
            owned = await asyncio.to_thread(build_context, settings)
            active = owned
        app.state.context = active
        app.state.authenticator = Authenticator(active, jwt, limiter)
        try:
            yield
        finally:
            if owned is not None:
                await owned.database.close()
                await close_shared_http_client()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    _add_error_handlers(app)
    if settings.api_cors_origins:
        origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.api_max_body_bytes)
    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    return app


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, problems.service_error)
    app.add_exception_handler(StarletteHTTPException, problems.http_error)
    app.add_exception_handler(RequestValidationError, problems.validation_error)
    app.add_exception_handler(RPCError, problems.temporal_error)
    app.add_exception_handler(OperationalError, problems.database_error)
    app.add_exception_handler(DataError, problems.data_error)
