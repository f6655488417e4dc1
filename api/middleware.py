"""ASGI middleware around the whole app: a body size limit and a last-resort 500.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so they see the raw stream: the size limit
counts bytes as they arrive, whether or not the client sent a Content-Length, and the error
net catches what escaped every handler without letting a traceback (which may quote request
data) reach the response or the log.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import KINDS, MEDIA_TYPE, problem_type
from core.logging import get_logger

log = get_logger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so FastAPI's body parsing lets it through
    (to the 413 problem handler) instead of turning it into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


async def _send_problem(send: Send, scope: Scope, kind: str, detail: str) -> None:
    status, title = KINDS[kind]
    body = json.dumps(
        {
            "type": problem_type(kind),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path"),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """413 above ``max_body_bytes``; 500 problem (and one log line) for an unhandled error."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.max_body_bytes} bytes"
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_problem(send, scope, "payload-too-large", too_large)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:  # read outside FastAPI's body parsing
            if not started:
                await _send_problem(send, scope, "payload-too-large", too_large)
        except Exception as error:
            # The type only: an exception's text may quote a request value.
            log.error(
                "api request failed",
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(error).__name__,
            )
            if not started:
                await _send_problem(send, scope, "internal", "an unexpected error occurred")


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
