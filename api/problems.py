"""RFC 9457 ``application/problem+json`` for every error the API answers.

One shape for all of them (``type``, ``title``, ``status``, ``detail``, ``instance``), with a
stable ``type`` URI per kind of error, so a client branches on ``type`` and never parses
``detail``. Extension members carry what a client can act on (the running sync's id on a 409,
the invalid fields on a 422). Request values are never echoed back: a rejected body may hold
a client secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from services.errors import Conflict, Invalid, ServiceError, Unauthorized

PROBLEM_BASE = "https://servicetitan-sync.dev/problems/"
MEDIA_TYPE = "application/problem+json"

# kind → (status, title). The kind is the last segment of the ``type`` URI.
KINDS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "Bad request"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Not allowed"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "conflict": (409, "Conflict"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation": (422, "Invalid request"),
    "invalid": (422, "Invalid value"),
    "too-many-requests": (429, "Too many failed authentications"),
    "internal": (500, "Internal error"),
    "unavailable": (503, "Service unavailable"),
}
_KIND_BY_STATUS = {status: kind for kind, (status, _title) in reversed(KINDS.items())}


class FieldProblem(BaseModel):
    """One invalid input and why: where it is for schema errors (``body.clientSecret``,
    ``query.page``), its name for a rule the value breaks (``tenantId``)."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(
        default=None, description="The invalid fields (kinds `validation` and `invalid`)."
    )


def problem_type(kind: str) -> str:
    return PROBLEM_BASE + kind


def problem_response(
    request: Request,
    kind: str,
    detail: str | None = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """The response for one problem; ``instance`` is the request's path."""
    default_status, title = KINDS[kind]
    body: dict[str, Any] = {key: value for key, value in extensions.items() if value is not None}
    body.update(  # the standard members win over an extension of the same name
        type=problem_type(kind),
        title=title,
        status=status or default_status,
        detail=detail,
        instance=request.url.path,
    )
    return JSONResponse(
        jsonable_encoder(body), status_code=body["status"], headers=headers, media_type=MEDIA_TYPE
    )


async def service_error(request: Request, error: Exception) -> JSONResponse:
    """A rule of the service layer said no: its message is written for the caller."""
    assert isinstance(error, ServiceError)
    kind = error.kind if error.kind in KINDS else _KIND_BY_STATUS.get(error.status, "bad-request")
    extensions: dict[str, Any] = {}
    headers: dict[str, str] | None = None
    if isinstance(error, Conflict):
        extensions.update(error.details)
    if isinstance(error, Invalid) and error.field:
        # The service names the Python parameter; the caller knows its camelCase name.
        extensions["errors"] = [{"field": to_camel(error.field), "message": str(error)}]
    if isinstance(error, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    return problem_response(
        request, kind, str(error), status=error.status, headers=headers, **extensions
    )


async def http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (unknown route, wrong method) and ``HTTPException`` raises."""
    assert isinstance(error, StarletteHTTPException)
    kind = _KIND_BY_STATUS.get(error.status_code)
    detail = error.detail if isinstance(error.detail, str) else None
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    if error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(error.headers or {})
    if kind is None:  # a status without a kind of its own: keep it, name it generically
        kind = "bad-request" if error.status_code < 500 else "internal"
        return problem_response(
            request, kind, detail, status=error.status_code, headers=headers or None
        )
    return problem_response(request, kind, detail, headers=headers or None)


_TEMPORAL_DOWN = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
}


async def temporal_error(request: Request, error: Exception) -> JSONResponse:
    """Temporal stopped answering mid-request: 503, as when it was down from the start."""
    assert isinstance(error, RPCError)
    if error.status not in _TEMPORAL_DOWN:
        raise error
    return problem_response(request, "unavailable", "Temporal is not reachable; try again later")


async def database_error(request: Request, error: Exception) -> JSONResponse:
    """PostgreSQL did not answer (or dropped the connection): 503, and no SQL in the body."""
    return problem_response(request, "unavailable", "the database is not reachable; try again")


async def data_error(request: Request, error: Exception) -> JSONResponse:
    """PostgreSQL refused a value (a NUL character, a number or date out of its range): the
    caller's input, so 422, without the SQL or the value."""
    return problem_response(request, "invalid", "a value cannot be stored or searched for")


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 with each invalid field and pydantic's message, but never the rejected value."""
    assert isinstance(error, RequestValidationError)
    problems = [
        {"field": _location(item.get("loc", ())), "message": str(item.get("msg", "invalid"))}
        for item in error.errors()
    ]
    fields = ", ".join(sorted({p["field"] for p in problems})) or "the request"
    return problem_response(request, "validation", f"invalid: {fields}", errors=problems)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route can answer."""
    return {
        status: {
            "model": Problem,
            "description": KINDS[_KIND_BY_STATUS[status]][1],
            "content": {MEDIA_TYPE: {}},
        }
        for status in statuses
    }
