"""Helpers shared by the ServiceTitan client tests (imported by conftest and test modules)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from servicetitan.tokens import AccessToken


class SecretRegistry:
    """Everything that must never appear in a log line or an exception message."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, *values: str) -> None:
        self.values.update(v for v in values if v)

    def leaks(self, text: str) -> list[str]:
        return sorted(v for v in self.values if v in text)


SECRETS = SecretRegistry()


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests through and records every access token a token endpoint returns."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/connect/token"):
            content = await response.aread()
            try:
                body: Any = orjson.loads(content)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                SECRETS.add(body["access_token"])
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=content,
                extensions=response.extensions,
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class ShiftedClock:
    """Wall-clock time plus an offset a test can advance (for the client's token expiry)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class MemoryTokenStore:
    """A process-local ``TokenStore``: the client tests' stand-in for ``db.token_store``."""

    def __init__(self) -> None:
        self._tokens: dict[int, AccessToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def recent(self, credential_id: int) -> AccessToken | None:
        return self._tokens.get(credential_id)

    async def load(self, credential_id: int) -> AccessToken | None:
        return self._tokens.get(credential_id)

    async def save(self, credential_id: int, token: AccessToken) -> None:
        self._tokens[credential_id] = token

    async def invalidate(self, credential_id: int, token_value: str) -> None:
        current = self._tokens.get(credential_id)
        if current is not None and current.value == token_value:
            del self._tokens[credential_id]

    @asynccontextmanager
    async def refresh_lock(self, credential_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(credential_id, asyncio.Lock())
        async with lock:
            yield
