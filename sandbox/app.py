"""The HTTP face of a :class:`~sandbox.state.Sandbox`: ServiceTitan's paths on one host.

``POST /connect/token`` plays auth(-integration).servicetitan.io; everything under
``/accounting/v2`` and ``/crm/v2`` plays api(-integration).servicetitan.io; ``/_sandbox/…``
is the admin API (JSON, snake_case) that drives the same Python methods tests call.

Every API call goes through the same gate, in the order a real gateway would apply it:
authentication (``ST-App-Key`` and a tenant-bound token; 401/403), forced 429s, the rate limit
per (app key, tenant), then injected faults (latency, error statuses, hangs, truncated bodies).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sandbox import endpoints as ep
from sandbox.auth import AuthFailure, TokenError
from sandbox.badrecords import applicable_cases
from sandbox.cursor import BadFrom
from sandbox.faults import Decision
from sandbox.generate import Kind, Record
from sandbox.lists import BadQuery, ListName, parse_bool, parse_query
from sandbox.problems import problem_bytes, rate_limit_title
from sandbox.state import Sandbox

JSON = "application/json; charset=utf-8"


class TruncatedBody(httpx.RemoteProtocolError):
    """Raised after sending half a body so the connection drops mid-response.

    It subclasses httpx's error on purpose: under httpx's in-process ASGI transport the
    exception reaches the client unchanged, so in-process tests see the same exception type
    as clients of the real server (where uvicorn closes the socket).
    """


def json_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, media_type=JSON, headers=dict(headers or {}))


class _ClosingResponse(Response):
    """Announces the full Content-Length, sends half the body, then drops the connection."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body, media_type=JSON)
        self._full = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {
                "type": "http.response.body",
                "body": self._full[: len(self._full) // 2],
                "more_body": True,
            }
        )
        raise TruncatedBody("peer closed connection without sending complete message body")


def create_app(sandbox: Sandbox) -> Starlette:
    """An ASGI app serving ``sandbox`` (use with uvicorn or ``httpx.ASGITransport``)."""
    api = _Api(sandbox)
    admin = _Admin(sandbox)
    routes = [
        Route("/connect/token", api.token, methods=["POST"]),
        Route(
            "/accounting/v2/tenant/{tenant:int}/export/invoices",
            api.export(ep.EXPORT_INVOICES, "invoices"),
        ),
        Route("/accounting/v2/tenant/{tenant:int}/invoices", api.invoices),
        Route(
            "/crm/v2/tenant/{tenant:int}/export/customers",
            api.export(ep.EXPORT_CUSTOMERS, "customers"),
        ),
        Route(
            "/crm/v2/tenant/{tenant:int}/export/customers/contacts",
            api.export(ep.EXPORT_CONTACTS, "contacts"),
        ),
        Route("/crm/v2/tenant/{tenant:int}/customers", api.customers),
        Route("/crm/v2/tenant/{tenant:int}/customers/contacts", api.customer_contacts),
        Route("/crm/v2/tenant/{tenant:int}/customers/{id:int}", api.customer),
        Route("/crm/v2/tenant/{tenant:int}/customers/{id:int}/contacts", api.contacts_of_customer),
        Route("/_sandbox/health", admin.health),
        Route("/_sandbox/tenants", admin.tenants),
        Route("/_sandbox/mutate", admin.mutate, methods=["POST"]),
        Route("/_sandbox/faults", admin.faults, methods=["GET", "POST"]),
        Route("/_sandbox/faults/reset", admin.reset_faults, methods=["POST"]),
        Route("/_sandbox/faults/force-429", admin.force_429, methods=["POST"]),
        Route("/_sandbox/revoke", admin.revoke, methods=["POST"]),
        Route("/_sandbox/restore", admin.restore, methods=["POST"]),
        Route("/_sandbox/expire-tokens", admin.expire_tokens, methods=["POST"]),
        Route("/_sandbox/time/advance", admin.advance_time, methods=["POST"]),
        Route("/_sandbox/bad-records", admin.bad_records, methods=["POST"]),
        Route("/_sandbox/counters", admin.counters),
        Route("/_sandbox/counters/reset", admin.reset_counters, methods=["POST"]),
        Route("/_sandbox/settings", admin.settings, methods=["GET", "POST"]),
        Route("/_sandbox/reset", admin.reset, methods=["POST"]),
        Route("/_sandbox/records/{tenant:int}/{kind}", admin.records),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return json_response(problem_bytes(status), status)

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.sandbox = sandbox
    return app


Handler = Callable[[Request], Awaitable[Response]]


class _Api:
    """The ServiceTitan endpoints."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sbx = sandbox

    def _respond(
        self, body: bytes, status: int, headers: Mapping[str, str] | None = None
    ) -> Response:
        self.sbx.counters.status(status)
        return json_response(body, status, headers)

    def _problem(self, status: int, title: str | None = None, **kw: Any) -> Response:
        return self._respond(problem_bytes(status, title, **kw), status)

    # ---- the gate --------------------------------------------------------------------------

    async def _gate(
        self,
        request: Request,
        endpoint: str,
        tenant_id: int | None,
        cursor: tuple[int, str, str] | None = None,
    ) -> Response | Decision:
        """Auth, forced 429s, rate limit and faults. A Response means: answer with it.

        An authenticated request for a page ``cursor`` is counted as a page request before
        any 429 or fault, so retries of one cursor show up in ``counters.page_requests``.
        """
        sbx = self.sbx
        sbx.counters.request(endpoint, tenant_id)
        if tenant_id is not None:
            app_key = request.headers.get("st-app-key")
            if not app_key or app_key not in sbx.config.app_keys:
                sbx.counters.auth_failure("app_key")
                response = self._problem(
                    401,
                    "Unauthorized",
                    errors={"ST-App-Key": ["The app key is missing or invalid."]},
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            verdict = sbx.auth.verify(request.headers.get("authorization"), tenant_id)
            if isinstance(verdict, AuthFailure):
                sbx.counters.auth_failure(verdict.reason)
                response = self._problem(
                    verdict.status,
                    "Unauthorized" if verdict.status == 401 else "Forbidden",
                    errors={"Authorization": [verdict.detail]},
                )
                if verdict.status == 401:
                    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
        if cursor is not None:
            sbx.counters.page_requested(cursor)
        retry_after = sbx.faults.forced_retry_after(tenant_id, endpoint)
        if retry_after is None and tenant_id is not None:
            rate, burst = sbx.rate_limit()
            retry_after = sbx.rate_limiter.acquire(
                request.headers.get("st-app-key", ""), tenant_id, rate, burst
            )
        elif retry_after is not None:
            sbx.counters.fault("forced_429")
        if retry_after is not None:
            sbx.counters.throttled(tenant_id or 0)
            return self._respond(
                problem_bytes(429, rate_limit_title(retry_after)),
                429,
                {"Retry-After": str(retry_after)},
            )
        decision = sbx.faults.decide(tenant_id, endpoint)
        if decision.latency:
            sbx.counters.fault("latency")
            await asyncio.sleep(decision.latency)
        if decision.hang_seconds:
            sbx.counters.fault("timeout")
            await asyncio.sleep(decision.hang_seconds)
        if decision.error_status is not None:
            sbx.counters.fault(f"error_{decision.error_status}")
            return self._problem(decision.error_status)
        return decision

    def _deliver(
        self,
        body: bytes,
        decision: Decision,
        cursor: tuple[int, str, str] | None,
        count: int,
        background: BackgroundTask | None = None,
    ) -> Response:
        """Send a successful body, possibly truncated, and count the page as served."""
        if decision.truncate == "json":
            self.sbx.counters.fault("truncate_json")
            return self._respond(body[: len(body) // 2], 200)
        if decision.truncate == "close":
            self.sbx.counters.fault("truncate_close")
            self.sbx.counters.status(200)
            return _ClosingResponse(body)
        if cursor is not None:
            self.sbx.counters.page_served(cursor, count)
        response = self._respond(body, 200)
        response.background = background
        return response

    # ---- token -----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        gate = await self._gate(request, ep.TOKEN, None)
        if isinstance(gate, Response):
            return gate
        content_type = request.headers.get("content-type", "")
        raw = await request.body()
        if "application/x-www-form-urlencoded" not in content_type.lower():
            return self._token_error(
                TokenError("invalid_request", "expected application/x-www-form-urlencoded")
            )
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return self._token_error(TokenError("invalid_request", "body is not UTF-8"))
        basic = _basic_auth(request.headers.get("authorization"))
        result = self.sbx.auth.issue(form, basic)
        if isinstance(result, TokenError):
            return self._token_error(result)
        self.sbx.counters.token("issued")
        body = orjson.dumps(result)
        if gate.truncate:
            return self._deliver(body, gate, None, 0)
        return self._respond(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _token_error(self, error: TokenError) -> Response:
        self.sbx.counters.token(error.error)
        return self._respond(
            orjson.dumps({"error": error.error}), 400, {"Cache-Control": "no-store"}
        )

    # ---- exports ---------------------------------------------------------------------------

    def export(self, endpoint: str, kind: Kind) -> Handler:
        async def handle(request: Request) -> Response:
            tenant_id: int = request.path_params["tenant"]
            params = request.query_params
            raw_from = params.get("from")
            cursor = (tenant_id, endpoint, raw_from or "")
            gate = await self._gate(request, endpoint, tenant_id, cursor)
            if isinstance(gate, Response):
                return gate
            try:
                include_recent = parse_bool(
                    "includeRecentChanges", params.get("includeRecentChanges")
                )
                page = self.sbx.export_page(tenant_id, kind, raw_from, include_recent)
            except BadFrom:
                return self._problem(
                    400,
                    errors={"from": ["The value is neither a continuation token nor a date."]},
                )
            except BadQuery as exc:
                return self._problem(400, errors={exc.field: [exc.message]})
            background = None
            if page.has_more and self.sbx.config.prefetch:
                background = BackgroundTask(self.sbx.prefetch, tenant_id, kind, page.continue_from)
            body, count = page.body, page.count
            bent = self.sbx.faults.bend_export(tenant_id, endpoint, kind, raw_from, body, count)
            if bent is not None:  # a feed fault: a cursor cycle or an endless empty page
                self.sbx.counters.fault(bent.fault)
                body, count = bent.body, bent.count
            return self._deliver(body, gate, cursor, count, background)

        return handle

    # ---- lists -----------------------------------------------------------------------------

    async def _list(
        self, request: Request, endpoint: str, name: ListName, kind: Kind, drop: tuple[str, ...]
    ) -> Response:
        tenant_id: int = request.path_params["tenant"]
        params = request.query_params
        cursor = (tenant_id, endpoint, _list_cursor(params))
        gate = await self._gate(request, endpoint, tenant_id, cursor)
        if isinstance(gate, Response):
            return gate
        cfg = self.sbx.config
        try:
            query = parse_query(name, params, cfg.list_default_page_size, cfg.list_max_page_size)
        except BadQuery as exc:
            return self._problem(400, errors={exc.field: [exc.message]})
        records, has_more, total = self.sbx.list_page(tenant_id, kind, query)
        if drop:
            records = [_without(r, drop) for r in records]
        body = orjson.dumps(
            {
                "page": query.page,
                "pageSize": query.page_size,
                "hasMore": has_more,
                "totalCount": total if query.include_total else None,
                "data": records,
            }
        )
        return self._deliver(body, gate, cursor, len(records))

    async def invoices(self, request: Request) -> Response:
        return await self._list(request, ep.INVOICES, "invoices", "invoices", ())

    async def customers(self, request: Request) -> Response:
        return await self._list(request, ep.CUSTOMERS, "customers", "customers", ())

    async def customer_contacts(self, request: Request) -> Response:
        return await self._list(
            request, ep.CUSTOMER_CONTACTS, "customer_contacts", "contacts", ("active",)
        )

    async def customer(self, request: Request) -> Response:
        tenant_id: int = request.path_params["tenant"]
        gate = await self._gate(request, ep.CUSTOMER, tenant_id)
        if isinstance(gate, Response):
            return gate
        record_id: int = request.path_params["id"]
        record = self.sbx.record(tenant_id, "customers", record_id)
        if record is None:
            return self._problem(404, "Customer not found", data={"id": record_id})
        return self._deliver(orjson.dumps(record), gate, None, 1)

    async def contacts_of_customer(self, request: Request) -> Response:
        tenant_id: int = request.path_params["tenant"]
        gate = await self._gate(request, ep.CONTACTS_OF_CUSTOMER, tenant_id)
        if isinstance(gate, Response):
            return gate
        cfg = self.sbx.config
        try:
            query = parse_query(
                "contacts_of_customer",
                request.query_params,
                cfg.list_default_page_size,
                cfg.list_max_page_size,
            )
        except BadQuery as exc:
            return self._problem(400, errors={exc.field: [exc.message]})
        found = self.sbx.contacts_of_customer(
            tenant_id, request.path_params["id"], query.page, query.page_size
        )
        if found is None:
            return self._problem(404, "Customer not found", data={"id": request.path_params["id"]})
        records, has_more, total = found
        body = orjson.dumps(
            {
                "page": query.page,
                "pageSize": query.page_size,
                "hasMore": has_more,
                "totalCount": total if query.include_total else None,
                "data": [_without(r, ("active", "customerId")) for r in records],
            }
        )
        return self._deliver(body, gate, None, len(records))


def _without(record: Record, keys: tuple[str, ...]) -> Record:
    return {k: v for k, v in record.items() if k not in keys}


def _list_cursor(params: Mapping[str, str]) -> str:
    """A list request's cursor: its parameters, canonically ordered."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params))


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


class _Admin:
    """``/_sandbox/…``: the Python API over HTTP, for out-of-process drivers."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sbx = sandbox

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    @staticmethod
    def _ok(data: Any) -> Response:
        return json_response(orjson.dumps(data))

    @staticmethod
    def _bad(message: str, status: int = 400) -> Response:
        return json_response(orjson.dumps({"error": message}), status)

    async def _call(self, request: Request, action: Callable[[dict[str, Any]], Any]) -> Response:
        try:
            return self._ok(action(await self._body(request)))
        except KeyError as exc:
            return self._bad(f"missing or unknown: {exc.args[0]}", 404)
        except (ValueError, TypeError) as exc:
            return self._bad(str(exc))

    async def health(self, request: Request) -> Response:
        return self._ok({"status": "ok", "tenants": sorted(self.sbx.tenants)})

    async def tenants(self, request: Request) -> Response:
        return self._ok(
            [
                {
                    "tenant_id": t.tenant_id,
                    "client_id": t.client_id,
                    "customers": t.customers,
                    "invoices": t.invoices,
                }
                for t in self.sbx.config.tenants
            ]
        )

    async def mutate(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            return self.sbx.mutate(
                int(body["tenant_id"]),
                modify=int(body.get("modify", 0)),
                add=int(body.get("add", 0)),
                deactivate=int(body.get("deactivate", 0)),
                merge=int(body.get("merge", 0)),
                contacts=int(body.get("contacts", 0)),
                kinds=tuple(body.get("kinds", ("customers", "invoices"))),
                seed=body.get("seed"),
            ).as_dict()

        return await self._call(request, action)

    def _faults_view(self) -> dict[str, Any]:
        faults = self.sbx.faults
        return {
            "settings": faults.settings.as_dict(),
            "forced_429": [
                {
                    "retry_after": r.retry_after,
                    "remaining": r.remaining,
                    "tenant_id": r.tenant_id,
                    "endpoints": sorted(r.endpoints) if r.endpoints else None,
                }
                for r in faults.forced
            ],
            "revoked": sorted(faults.revoked),
            "rate_limit": dict(zip(("per_second", "burst"), self.sbx.rate_limit(), strict=True)),
        }

    async def faults(self, request: Request) -> Response:
        if request.method == "GET":
            return self._ok(self._faults_view())

        def action(body: dict[str, Any]) -> Any:
            self.sbx.set_faults(**body)
            return self._faults_view()

        return await self._call(request, action)

    async def reset_faults(self, request: Request) -> Response:
        self.sbx.reset_faults()
        return self._ok(self._faults_view())

    async def force_429(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            self.sbx.force_429(
                count=body.get("count"),
                seconds=body.get("seconds"),
                retry_after=int(body.get("retry_after", 1)),
                tenant_id=body.get("tenant_id"),
                endpoint=body.get("endpoint"),
            )
            return self._faults_view()

        return await self._call(request, action)

    async def revoke(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            self.sbx.revoke(str(body["client_id"]))
            return self._faults_view()

        return await self._call(request, action)

    async def restore(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            self.sbx.restore(str(body["client_id"]))
            return self._faults_view()

        return await self._call(request, action)

    async def expire_tokens(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            self.sbx.expire_tokens(body.get("client_id"))
            return {"ok": True}

        return await self._call(request, action)

    async def advance_time(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            self.sbx.advance_time(float(body["seconds"]))
            return {"offset_seconds": self.sbx.clock.offset}

        return await self._call(request, action)

    async def bad_records(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            kind = body.get("kind", "invoices")
            if kind not in ("invoices", "customers", "contacts"):
                raise ValueError(f"unknown kind {kind!r}")
            injected = self.sbx.inject_bad_records(int(body["tenant_id"]), kind, body.get("cases"))
            return {
                "injected": [r.as_dict() for r in injected],
                "available_cases": applicable_cases(kind),
            }

        return await self._call(request, action)

    async def counters(self, request: Request) -> Response:
        return self._ok(self.sbx.counters.snapshot())

    async def reset_counters(self, request: Request) -> Response:
        self.sbx.counters.reset()
        return self._ok({"ok": True})

    async def settings(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> Any:
            if "export_page_size" in body:
                self.sbx.set_export_page_size(int(body["export_page_size"]))
            return {"export_page_size": self.sbx.export_page_size}

        if request.method == "GET":
            return self._ok({"export_page_size": self.sbx.export_page_size})
        return await self._call(request, action)

    async def reset(self, request: Request) -> Response:
        self.sbx.reset()
        return self._ok({"ok": True})

    async def records(self, request: Request) -> Response:
        """Ground truth as NDJSON: ``?expected=true`` gives the consumer's expected state."""
        tenant_id: int = request.path_params["tenant"]
        kind = request.path_params["kind"]
        if tenant_id not in self.sbx.tenants or kind not in ("invoices", "customers", "contacts"):
            return self._bad("unknown tenant or kind", 404)
        expected = parse_bool("expected", request.query_params.get("expected"))
        if expected:
            source = iter(self.sbx.expected_state(tenant_id, kind).values())
        else:
            source = self.sbx.records(tenant_id, kind)

        def lines() -> Any:
            for record in source:
                try:
                    yield orjson.dumps(record) + b"\n"
                except TypeError:  # lone surrogates in injected records
                    yield json.dumps(record).encode() + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")
