"""Plain configuration for the ServiceTitan client.

The client takes these small frozen values instead of reading ``core.settings`` itself, so a
test (or a one-off CLI call) can point it at a sandbox with a handful of literals, and so the
client package never depends on how the product loads its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from core.settings import Settings

Environment = Literal["production", "integration"]

PRODUCTION_AUTH_URL = "https://auth.servicetitan.io"
PRODUCTION_API_URL = "https://api.servicetitan.io"
INTEGRATION_AUTH_URL = "https://auth-integration.servicetitan.io"
INTEGRATION_API_URL = "https://api-integration.servicetitan.io"
MIB = 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 64 * MIB
"""The largest response body the client reads (after decompression): far above any page
ServiceTitan serves, far below what would exhaust a worker's memory."""


@dataclass(frozen=True)
class EnvironmentUrls:
    """Base URLs of one ServiceTitan environment (no trailing slash)."""

    auth_url: str
    api_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "auth_url", self.auth_url.rstrip("/"))
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))

    @property
    def token_url(self) -> str:
        return f"{self.auth_url}/connect/token"


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs that is the same for every credential of a deployment.

    ``app_key`` is the application's ``ST-App-Key``; it is treated as a secret (never shown in
    ``repr``, logs or error messages).
    """

    app_key: str = field(repr=False)
    production: EnvironmentUrls = field(
        default_factory=lambda: EnvironmentUrls(PRODUCTION_AUTH_URL, PRODUCTION_API_URL)
    )
    integration: EnvironmentUrls = field(
        default_factory=lambda: EnvironmentUrls(INTEGRATION_AUTH_URL, INTEGRATION_API_URL)
    )
    rate_limit_per_second: float = 50.0
    """Client-side budget per (app key, tenant). ServiceTitan allows 60."""
    rate_limit_burst: int | None = None
    """Requests allowed back to back before pacing starts; None = a fifth of a second's budget."""
    token_refresh_threshold_seconds: float = 300.0
    """Request a new token when less than this remains of the cached one."""
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 100.0
    write_timeout_seconds: float = 30.0
    pool_timeout_seconds: float = 30.0
    """How long a request may wait for a free connection from the shared pool."""
    default_retry_after_seconds: float = 5.0
    """Delay reported by ``RateLimited`` when a 429 carries no usable ``Retry-After``."""
    max_retry_after_seconds: float = 3600.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """A response whose decoded body grows past this fails instead of being read on."""

    def __post_init__(self) -> None:
        if not self.app_key:
            raise ValueError("the ServiceTitan app key (SERVICETITAN_APP_KEY) is empty")
        if self.rate_limit_per_second <= 0:
            raise ValueError("rate_limit_per_second must be positive")
        if self.rate_limit_burst is not None and self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")
        if self.token_refresh_threshold_seconds < 0:
            raise ValueError("token_refresh_threshold_seconds must not be negative")
        if self.max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")

    def urls(self, environment: Environment) -> EnvironmentUrls:
        if environment == "production":
            return self.production
        if environment == "integration":
            return self.integration
        raise ValueError(f"unknown ServiceTitan environment {environment!r}")

    @property
    def effective_burst(self) -> int:
        if self.rate_limit_burst is not None:
            return self.rate_limit_burst
        return max(1, int(self.rate_limit_per_second / 5))

    @classmethod
    def from_settings(cls, settings: Settings, *, app_key: str | None = None) -> ClientConfig:
        """Build from the product's settings. ``app_key`` overrides (e.g. the sandbox's key)."""
        key = app_key
        if key is None and settings.servicetitan_app_key is not None:
            key = settings.servicetitan_app_key.get_secret_value()
        if not key:
            raise ValueError("SERVICETITAN_APP_KEY is not set")
        return cls(
            app_key=key,
            production=EnvironmentUrls(
                settings.auth_url("production"), settings.api_url("production")
            ),
            integration=EnvironmentUrls(
                settings.auth_url("integration"), settings.api_url("integration")
            ),
            rate_limit_per_second=settings.servicetitan_rate_limit_per_second,
            token_refresh_threshold_seconds=float(
                settings.servicetitan_token_refresh_threshold_seconds
            ),
            connect_timeout_seconds=settings.servicetitan_connect_timeout_seconds,
            read_timeout_seconds=settings.servicetitan_read_timeout_seconds,
            max_response_bytes=settings.servicetitan_max_response_mb * MIB,
        )


@dataclass(frozen=True)
class Credentials:
    """One tenant's client id and secret in one environment, as stored for a credential row.

    ``repr`` masks the id and secret, so the object can appear in tracebacks and logs safely.
    """

    credential_id: int
    tenant_id: int
    environment: Environment
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"Credentials(credential_id={self.credential_id}, tenant_id={self.tenant_id}, "
            f"environment={self.environment!r}, client_id='***', client_secret='***')"
        )

    __str__ = __repr__
