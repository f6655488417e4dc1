"""Platform JWTs: signature, issuer, audience, expiry and claims decide; nothing else does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from core.settings import ConfigurationError, load_settings
from services.identity import Role
from services.jwt_auth import JwtVerifier

ISSUER, AUDIENCE = "https://platform.example", "servicetitan-sync"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _token(key: Any = KEY, headers: dict[str, str] | None = None, **claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-17",
        "role": "company_user",
        "company_ids": [3, 5],
        "exp": int(time.time()) + 300,
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers=headers)


def _verifier(tmp_path: Path, **files: Path) -> JwtVerifier:
    settings = load_settings(
        _env_file=None,
        credential_encryption_keys=None,
        data_dir=tmp_path,
        api_jwt_issuer=ISSUER,
        api_jwt_audience=AUDIENCE,
        **files,
    )
    verifier = JwtVerifier.from_settings(settings)
    assert verifier is not None
    return verifier


@pytest.fixture
def pem_verifier(tmp_path: Path) -> JwtVerifier:
    path = tmp_path / "platform.pem"
    path.write_bytes(_public_pem(KEY))
    return _verifier(tmp_path, api_jwt_public_key_file=path)


def test_a_valid_token_maps_its_claims_to_a_principal(pem_verifier: JwtVerifier) -> None:
    principal = pem_verifier.verify(_token())
    assert principal is not None
    assert (principal.subject, principal.role) == ("user-17", Role.COMPANY_USER)
    assert principal.company_ids == frozenset({3, 5}) and principal.actor == "jwt:user-17"


@pytest.mark.parametrize(
    "token",
    [
        _token(key=OTHER_KEY),
        _token(iss="https://evil.example"),
        _token(aud="someone-else"),
        _token(exp=int(time.time()) - 3600),
        _token(role="superuser"),
        _token(company_ids="3"),
        _token(company_ids=[]),
        _token(sub=""),
        "not a jwt",
    ],
    ids=[
        "wrong-key",
        "issuer",
        "audience",
        "expired",
        "role",
        "company-ids-type",
        "no-company",
        "no-subject",
        "garbage",
    ],
)
def test_a_bad_token_is_refused(pem_verifier: JwtVerifier, token: str) -> None:
    assert pem_verifier.verify(token) is None


def test_a_symmetric_token_signed_with_the_public_key_is_refused(
    pem_verifier: JwtVerifier,
) -> None:
    """The classic algorithm-confusion forgery: HS256 keyed with the (public) PEM."""

    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "role": "admin", "exp": time.time() + 60}
    signed = part({"alg": "HS256", "typ": "JWT"}) + b"." + part(claims)
    mac = hmac.new(_public_pem(KEY), signed, hashlib.sha256).digest()
    token = (signed + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    assert pem_verifier.verify(token) is None


def test_jwks_keys_are_chosen_by_kid(tmp_path: Path) -> None:
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    verifier = _verifier(tmp_path, api_jwt_jwks_file=path)
    assert verifier.verify(_token(headers={"kid": "k1"})) is not None
    assert verifier.verify(_token(headers={"kid": "k2"})) is None
    assert verifier.verify(_token(key=OTHER_KEY, headers={"kid": "k1"})) is None


def test_unconfigured_is_none_and_half_configured_is_an_error(tmp_path: Path) -> None:
    plain = load_settings(_env_file=None, credential_encryption_keys=None, data_dir=tmp_path)
    assert JwtVerifier.from_settings(plain) is None
    half = load_settings(
        _env_file=None, credential_encryption_keys=None, data_dir=tmp_path, api_jwt_issuer=ISSUER
    )
    with pytest.raises(ConfigurationError):
        JwtVerifier.from_settings(half)
