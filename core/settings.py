"""Configuration, read once from the environment (and an optional ``.env`` file).

Every knob the product has lives here, so the configuration reference in ``docs/`` can be
generated from this class and can never drift from it. A wrong value stops the process at
start-up with a message that names the environment variable, instead of failing later and
far away from its cause.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.redact import register_secret

PROJECT_ROOT = Path(__file__).resolve().parent.parent

Environment = Literal["production", "integration"]


class ConfigurationError(Exception):
    """The environment holds a value the product cannot run with."""


class Settings(BaseSettings):
    """All configuration. Field name upper-cased = environment variable name."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- Infrastructure -------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db). "
        "Unset: an embedded PostgreSQL is started (or reused) under DATA_DIR.",
    )
    temporal_address: str | None = Field(
        default=None,
        description="Temporal frontend host:port. Unset: an embedded Temporal dev server "
        "(Web UI included) is started (or reused) under DATA_DIR.",
    )
    temporal_namespace: str = Field(default="default", description="Temporal namespace.")
    temporal_task_queue: str = Field(
        default="servicetitan-sync", description="Task queue the worker polls."
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="API key for Temporal Cloud (sent as a bearer token)."
    )
    temporal_tls: bool = Field(default=False, description="Connect to Temporal over TLS.")
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data",
        description="Where embedded services keep their state, the development key and the "
        "worker's liveness heartbeat file.",
    )
    embedded_temporal_port: int = Field(
        default=7233, ge=1, le=65535, description="gRPC port of the embedded Temporal server."
    )
    embedded_temporal_ui_port: int = Field(
        default=8233, ge=1, le=65535, description="Web UI port of the embedded Temporal server."
    )

    # --- ServiceTitan ---------------------------------------------------------------------
    servicetitan_app_key: SecretStr | None = Field(
        default=None,
        description="The application's ST-App-Key from the ServiceTitan developer portal. "
        "Required for real tenants; unset with embedded defaults means the local sandbox "
        "plays ServiceTitan.",
    )
    servicetitan_auth_url_production: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://auth.servicetitan.io"),
        description="OAuth server for production credentials.",
    )
    servicetitan_api_url_production: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.servicetitan.io"),
        description="API base URL for production credentials.",
    )
    servicetitan_auth_url_integration: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://auth-integration.servicetitan.io"),
        description="OAuth server for integration credentials.",
    )
    servicetitan_api_url_integration: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api-integration.servicetitan.io"),
        description="API base URL for integration credentials.",
    )
    servicetitan_rate_limit_per_second: float = Field(
        default=50.0,
        gt=0,
        description="Request budget per (app key, tenant), shared by every worker process "
        "through PostgreSQL; ServiceTitan allows 60.",
    )
    servicetitan_token_refresh_threshold_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="Request a new access token when less than this remains of the old one.",
    )
    servicetitan_connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="TCP/TLS connect timeout for ServiceTitan calls."
    )
    servicetitan_read_timeout_seconds: float = Field(
        default=100.0,
        gt=0,
        description="Read timeout for ServiceTitan calls (ServiceTitan documents 100 s).",
    )
    servicetitan_max_response_mb: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="Largest ServiceTitan response body read, in MiB after decompression; "
        "a larger page fails the sync with a clear error instead of exhausting memory.",
    )

    # --- Secrets --------------------------------------------------------------------------
    credential_encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated keys (`python starter.py keys generate`), newest first. "
        "The first encrypts; all decrypt, so keys can rotate. Required as soon as "
        "DATABASE_URL or TEMPORAL_ADDRESS is set; unset in the fully embedded mode only, "
        "where a development key is generated under DATA_DIR (with a warning).",
    )

    # --- Sync behaviour -------------------------------------------------------------------
    sync_pages_before_continue_as_new: int = Field(
        default=500,
        ge=1,
        description="A sync continues-as-new after this many pages (or when Temporal "
        "suggests it), so its history stays bounded.",
    )
    sync_insert_batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="Rows per upsert batch (the seed's 2000)."
    )
    sync_mapping_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Processes that map and validate pages beside the worker's event loop "
        "(activities/mapping_pool.py); 0 maps on the event loop.",
    )
    sync_enabled: bool = Field(
        default=True,
        description="Global emergency switch: false refuses every sync and stops running "
        "ones at the next page boundary.",
    )
    downstream_workflow: str | None = Field(
        default=None,
        description="Workflow type to start for downstream processing after a run that "
        "synced records (the outbox row is written either way).",
    )
    downstream_task_queue: str | None = Field(
        default=None,
        description="Task queue of the downstream workflow (default: TEMPORAL_TASK_QUEUE).",
    )

    # --- Worker process -------------------------------------------------------------------
    worker_graceful_shutdown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGINT/SIGTERM, running activities get this long to finish.",
    )
    worker_max_concurrent_activities: int = Field(
        default=32, ge=1, description="Activities one worker process runs at once."
    )
    metrics_address: str | None = Field(
        default=None,
        description="host:port to serve Prometheus metrics on (e.g. 127.0.0.1:9464). "
        "Unset: no metrics endpoint.",
    )

    # --- Logging --------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Minimum log level."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="auto: readable console on a terminal, JSON lines otherwise.",
    )

    # --- Alerts ---------------------------------------------------------------------------
    alert_stale_after_seconds: int | None = Field(
        default=None,
        ge=60,
        description="A credential is stale when its last success is older than this. "
        "Unset: twice its schedule interval (or 48 h without a schedule).",
    )
    alert_consecutive_failures: int = Field(
        default=3, ge=1, description="Alert after this many failed syncs in a row."
    )
    alert_reject_spike_records: int = Field(
        default=100,
        ge=1,
        description="Alert when the last sync quarantined more than this many records.",
    )
    alert_reject_spike_percent: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="Alert when the last sync quarantined more than this share (%) of the "
        "records it received.",
    )

    # --- HTTP API -------------------------------------------------------------------------
    api_host: str = Field(
        default="127.0.0.1",
        description="Address `starter.py api serve` listens on (0.0.0.0 inside a container).",
    )
    api_port: int = Field(
        default=8000, ge=0, le=65535, description="Port of the HTTP API (0 picks a free one)."
    )
    api_cors_origins: str | None = Field(
        default=None,
        description="Comma-separated origins allowed to call the API from a browser "
        "(e.g. https://app.example.com). Unset: no CORS headers at all.",
    )
    api_max_body_bytes: int = Field(
        default=65536,
        ge=1024,
        description="Largest request body the API accepts; a larger one answers 413.",
    )
    api_auth_failures_per_minute: int = Field(
        default=10,
        ge=1,
        description="Failed authentications one client address may make per minute before "
        "the API answers 429 with Retry-After.",
    )

    # --- HTTP API: platform-issued JWTs ---------------------------------------------------
    api_jwt_issuer: str | None = Field(
        default=None,
        description="Issuer (`iss`) of the platform's JWTs the API accepts. Unset: no JWTs, "
        "API tokens only.",
    )
    api_jwt_audience: str | None = Field(
        default=None, description="Audience (`aud`) the platform's JWTs must name."
    )
    api_jwt_public_key_file: Path | None = Field(
        default=None,
        description="PEM public key that verifies the JWTs (RS256/ES256/EdDSA). "
        "Give this or API_JWT_JWKS_FILE.",
    )
    api_jwt_jwks_file: Path | None = Field(
        default=None,
        description="JWKS file (JSON) whose keys verify the JWTs, chosen by `kid`. "
        "Give this or API_JWT_PUBLIC_KEY_FILE.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("expected host:port, e.g. 127.0.0.1:7233")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
            raise ValueError("expected a postgresql:// URL")
        return value

    @field_validator("metrics_address")
    @classmethod
    def _metrics_host_port(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return cls._host_port(value)

    @model_validator(mode="after")
    def _keys_unless_fully_embedded(self) -> Settings:
        """A configured deployment never invents a key: in a container it would die with it."""
        if self.credential_encryption_keys is None and not (
            self.embedded_postgres and self.embedded_temporal
        ):
            raise ValueError(
                "CREDENTIAL_ENCRYPTION_KEYS is not set (a development key is made only when "
                "neither DATABASE_URL nor TEMPORAL_ADDRESS is set): set it to the deployment's "
                "keys, the same on every worker and CLI; a new deployment makes its first key "
                "with `python starter.py keys generate`"
            )
        return self

    @property
    def embedded_temporal(self) -> bool:
        """True when the product runs its own Temporal dev server."""
        return self.temporal_address is None

    @property
    def embedded_postgres(self) -> bool:
        """True when the product runs its own PostgreSQL."""
        return self.database_url is None

    @property
    def sandbox_mode(self) -> bool:
        """No app key on embedded defaults: the local sandbox plays ServiceTitan (the demo)."""
        return self.servicetitan_app_key is None and self.embedded_temporal

    def auth_url(self, environment: Environment) -> str:
        url = (
            self.servicetitan_auth_url_production
            if environment == "production"
            else self.servicetitan_auth_url_integration
        )
        return str(url).rstrip("/")

    def api_url(self, environment: Environment) -> str:
        url = (
            self.servicetitan_api_url_production
            if environment == "production"
            else self.servicetitan_api_url_integration
        )
        return str(url).rstrip("/")


def describe_validation_error(error: ValidationError) -> str:
    """One readable line per bad variable, naming the variable as the user spelled it."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            message = f"{str(problem['loc'][0]).upper()}: {message}"
        lines.append(message)
    return "invalid configuration: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the configuration, turning pydantic's report into a ConfigurationError."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error)) from None
    _register_secrets(settings)
    return settings


def _register_secrets(settings: Settings) -> None:
    """Tell the redactor the configured secrets, so no text shows them whatever their shape."""
    for secret in (
        settings.servicetitan_app_key,
        settings.temporal_api_key,
        settings.credential_encryption_keys,
    ):
        if secret is not None:
            for part in secret.get_secret_value().split(","):
                register_secret(part.strip(), pinned=True)
    if settings.database_url is not None:
        password = urlsplit(settings.database_url.get_secret_value()).password
        if password:
            register_secret(password, pinned=True)
            register_secret(unquote(password), pinned=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own with ``load_settings``)."""
    return load_settings()
