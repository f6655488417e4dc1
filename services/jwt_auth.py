"""Platform-issued JWTs: verify signature, issuer, audience and expiry, map claims to a role.

Configured by ``API_JWT_ISSUER``, ``API_JWT_AUDIENCE`` and one of ``API_JWT_PUBLIC_KEY_FILE``
(PEM) or ``API_JWT_JWKS_FILE`` (keys chosen by ``kid``). Only asymmetric algorithms are
accepted, so the API never holds a key that could mint tokens. Claims: ``sub``, ``role``
(admin | company_admin | company_user) and ``company_ids`` (a list of integers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from core.settings import ConfigurationError, Settings
from services.identity import Principal, Role

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class JwtVerifier:
    issuer: str
    audience: str
    public_key: Any = field(default=None, repr=False)  # a key object or PEM text
    keys: Mapping[str, PyJWK] = field(default_factory=dict, repr=False)  # by kid

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier | None:
        """None when JWTs are not configured; a half configuration is an error, not a no."""
        issuer, audience = settings.api_jwt_issuer, settings.api_jwt_audience
        pem, jwks = settings.api_jwt_public_key_file, settings.api_jwt_jwks_file
        if not (issuer or audience or pem or jwks):
            return None
        if not issuer or not audience or (pem is None) == (jwks is None):
            raise ConfigurationError(
                "JWT authentication needs API_JWT_ISSUER, API_JWT_AUDIENCE and exactly one of "
                "API_JWT_PUBLIC_KEY_FILE and API_JWT_JWKS_FILE"
            )
        try:
            if pem is not None:
                return cls(issuer, audience, public_key=pem.read_text(encoding="utf-8"))
            assert jwks is not None
            document = json.loads(jwks.read_text(encoding="utf-8"))
            found = PyJWKSet.from_dict(document).keys
        except (OSError, ValueError, jwt.PyJWTError) as error:
            raise ConfigurationError(f"cannot read the JWT verification key: {error}") from None
        return cls(issuer, audience, keys={k.key_id or "": k for k in found})

    def _key(self, token: str) -> Any:
        if self.public_key is not None:
            return self.public_key
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        return self.keys.get(str(kid))

    def verify(self, token: str) -> Principal | None:
        """The token's principal, or None when it is not a valid token of the platform."""
        try:
            key = self._key(token)
            if key is None:
                return None
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return principal_from_claims(claims)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal | None:
    """``sub``, ``role`` and ``company_ids`` as a principal; None when any is malformed."""
    subject, role, companies = claims.get("sub"), claims.get("role"), claims.get("company_ids", [])
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        return None
    try:
        chosen = Role(str(role))
    except ValueError:
        return None
    if not isinstance(companies, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in companies
    ):
        return None
    if chosen is not Role.ADMIN and not companies:
        return None
    return Principal(subject=subject, role=chosen, company_ids=frozenset(companies))
