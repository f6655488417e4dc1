"""The OAuth server (``POST /connect/token``) and the check every API call goes through.

ServiceTitan's identity server only does client credentials: a tenant's client id and secret
buy a bearer token that lives ``expires_in`` seconds (900) and is bound to that tenant. Tokens
here are JWT-shaped (header.payload.signature, HMAC-signed with a per-process key) so clients
that peek at them see the real claims (``client_id``, ``tenant``, ``exp``…), and so checking
one needs no lookup. A revoked client's tokens stop working at once; ``expire_tokens`` makes
existing tokens of a client (or all) expire now, as if their lifetime had passed.

Unknown client or wrong secret → 400 ``{"error":"invalid_client"}``; a grant type other than
``client_credentials`` → 400 ``{"error":"unsupported_grant_type"}`` (RFC 6749 §5.2; the exact
bodies ServiceTitan sends are undocumented).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox.clock import Clock
from sandbox.config import SandboxConfig, TenantSpec
from sandbox.faults import Faults

ISSUER = "https://sandbox.servicetitan.local"
SCOPE = "tn.acc.invoices:r tn.crm.customers:r"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenError:
    """Why the token endpoint refused (``error`` is the OAuth code)."""

    error: str
    description: str


@dataclass(frozen=True)
class AuthFailure:
    """Why an API call is refused: 401 (no/bad/expired/revoked token) or 403 (wrong tenant)."""

    status: int
    reason: str
    detail: str


@dataclass(frozen=True)
class Claims:
    client_id: str
    tenant_id: int
    expires_at: float


class TokenAuthority:
    """Issues and checks access tokens."""

    def __init__(self, config: SandboxConfig, clock: Clock, faults: Faults) -> None:
        self._config = config
        self._clock = clock
        self._faults = faults
        self._key = secrets.token_bytes(32)
        self._clients: dict[str, TenantSpec] = {t.client_id: t for t in config.tenants}
        self._epochs: dict[str, int] = {}
        self._global_epoch = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._key = secrets.token_bytes(32)
            self._epochs.clear()
            self._global_epoch = 0

    def expire_tokens(self, client_id: str | None = None) -> None:
        """Existing tokens of ``client_id`` (or of every client) expire now."""
        with self._lock:
            if client_id is None:
                self._global_epoch += 1
            else:
                self._epochs[client_id] = self._epochs.get(client_id, 0) + 1

    def _epoch(self, client_id: str) -> int:
        return self._global_epoch * 1_000_000 + self._epochs.get(client_id, 0)

    def issue(
        self, form: dict[str, str], basic: tuple[str, str] | None = None
    ) -> dict[str, Any] | TokenError:
        """Answer a token request (form fields, or HTTP Basic client authentication)."""
        grant = form.get("grant_type")
        if not grant:
            return TokenError("invalid_request", "grant_type is missing")
        if grant != "client_credentials":
            return TokenError("unsupported_grant_type", f"{grant!r} is not supported")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if basic is not None and not client_id:
            client_id, secret = basic
        spec = self._clients.get(client_id or "")
        if (
            spec is None
            or secret is None
            or not hmac.compare_digest(spec.client_secret.encode(), secret.encode())
            or spec.client_id in self._faults.revoked
        ):
            return TokenError("invalid_client", "unknown client or wrong secret")
        ttl = self._faults.settings.token_ttl_seconds or self._config.token_ttl_seconds
        now = self._clock.time()
        payload = {
            "nbf": int(now),
            "exp": now + ttl,
            "iss": ISSUER,
            "client_id": spec.client_id,
            "tenant": str(spec.tenant_id),
            "jti": secrets.token_hex(16),
            "iat": int(now),
            "scope": SCOPE.split(),
            "sbx": self._epoch(spec.client_id),
        }
        header = _b64(b'{"alg":"HS256","typ":"at+jwt"}')
        body = _b64(orjson.dumps(payload))
        signature = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        return {
            "access_token": f"{header}.{body}.{signature}",
            "expires_in": ttl,
            "token_type": "Bearer",
            "scope": SCOPE,
        }

    def verify(self, authorization: str | None, tenant_id: int) -> Claims | AuthFailure:
        """Check an ``Authorization`` header (``Bearer x`` or a bare ``x``) for ``tenant_id``."""
        if not authorization or not authorization.strip():
            return AuthFailure(401, "missing_token", "The Authorization header is missing.")
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            return AuthFailure(401, "malformed_token", "The access token is malformed.")
        header, body, signature = parts
        expected = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return AuthFailure(401, "invalid_token", "The access token is invalid.")
        try:
            payload = orjson.loads(_unb64(body))
            client_id = str(payload["client_id"])
            token_tenant = int(payload["tenant"])
            expires_at = float(payload["exp"])
            epoch = int(payload["sbx"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            return AuthFailure(401, "invalid_token", "The access token is invalid.")
        if client_id in self._faults.revoked:
            return AuthFailure(401, "revoked", "The client's credentials have been revoked.")
        if self._clock.time() >= expires_at or epoch != self._epoch(client_id):
            return AuthFailure(401, "expired_token", "The access token has expired.")
        if token_tenant != tenant_id:
            return AuthFailure(
                403,
                "wrong_tenant",
                f"The access token does not grant access to tenant {tenant_id}.",
            )
        return Claims(client_id, token_tenant, expires_at)
