"""Who is calling: ``Authorization: Bearer <token>`` → a ``Principal``, or 401/429.

Two kinds of bearer token: an API token (``sts_…``, ``starter.py tokens create``), looked up
by its hash in PostgreSQL, and, when configured, a JWT issued by the platform, whose claims
carry the role and companies. Presenting bad tokens is counted per client address
(``api.ratelimit``): past the limit the address gets 429 until the window moves on. A request
without any token is not counted; it simply gets 401.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.ratelimit import FailureLimiter
from services import tokens
from services.context import ServiceContext
from services.errors import Unauthorized
from services.identity import Principal
from services.jwt_auth import JwtVerifier
from services.tokens import PREFIX as API_TOKEN_PREFIX

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`starter.py tokens create`) or a JWT issued by the platform.",
)


@dataclass
class Authenticator:
    context: ServiceContext
    jwt: JwtVerifier | None
    limiter: FailureLimiter

    async def principal(self, token: str) -> Principal | None:
        if token.startswith(API_TOKEN_PREFIX):
            return await tokens.authenticate_token(self.context.database, token)
        if self.jwt is None:
            return None
        verified = self.jwt.verify(token)
        if inspect.isawaitable(verified):
            verified = await verified
        return verified


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller of this request."""
    authenticator: Authenticator = request.app.state.authenticator
    if credentials is None:
        raise Unauthorized("send `Authorization: Bearer <token>`")
    address = client_address(request)
    wait = authenticator.limiter.retry_after(address)
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed authentications from {address}; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    principal = await authenticator.principal(credentials.credentials)
    if principal is None:
        authenticator.limiter.record_failure(address)
        raise Unauthorized("the token is invalid, expired or revoked")
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
