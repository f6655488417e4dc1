"""The platform's side of JWT authentication, for tests: a signing key and tokens it signs.

The API is configured with the public half (API_JWT_PUBLIC_KEY_FILE), as a deployment would
be; ``forger`` is a second issuer with the same names but another key, whose tokens the API
must refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://platform.example.test"
AUDIENCE = "servicetitan-sync"


@dataclass
class JwtIssuer:
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()), repr=False
    )

    def write_public_key(self, path: Path) -> Path:
        path.write_bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return path

    def mint(
        self,
        subject: str,
        role: str,
        company_ids: list[int],
        *,
        expires_in: timedelta = timedelta(hours=1),
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "role": role,
            "company_ids": company_ids,
            "iat": now,
            "exp": now + expires_in,
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="ES256")
