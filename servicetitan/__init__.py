"""ServiceTitan API client: auth, paging, typed errors, rate limiting. No Temporal in here."""

from servicetitan.client import CredentialCheck, ServiceTitanClient
from servicetitan.config import ClientConfig, Credentials, Environment, EnvironmentUrls
from servicetitan.errors import (
    BadRequest,
    ConnectionFailed,
    CredentialsRejected,
    InvalidResponse,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServiceTitanError,
    ServiceUnavailable,
)
from servicetitan.http import close_shared_http_client, new_http_client, shared_http_client
from servicetitan.pages import ExportPage, ExportStream, ListPage, ListResource
from servicetitan.problem import ProblemDetails
from servicetitan.tokens import AccessToken, TokenStore

__all__ = [
    "AccessToken",
    "BadRequest",
    "ClientConfig",
    "ConnectionFailed",
    "CredentialCheck",
    "Credentials",
    "CredentialsRejected",
    "Environment",
    "EnvironmentUrls",
    "ExportPage",
    "ExportStream",
    "InvalidResponse",
    "ListPage",
    "ListResource",
    "NotFound",
    "ProblemDetails",
    "RateLimited",
    "RequestTimeout",
    "ServiceTitanClient",
    "ServiceTitanError",
    "ServiceUnavailable",
    "TokenStore",
    "close_shared_http_client",
    "new_http_client",
    "shared_http_client",
]
