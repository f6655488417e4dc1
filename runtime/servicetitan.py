"""Which ServiceTitan this process talks to: the configured one, or the demo sandbox.

One decision for the worker and the CLI alike: with embedded defaults and no app key, the
embedded sandbox plays both environments (so ``credentials test`` in the CLI sees the same
server the worker syncs from); otherwise the configured URLs and app key are used.
"""

from __future__ import annotations

from core.embedded.sandbox import ensure_sandbox_server
from core.settings import Settings
from servicetitan.config import ClientConfig, EnvironmentUrls


def client_config(settings: Settings) -> ClientConfig:
    if not settings.sandbox_mode:
        return ClientConfig.from_settings(settings)
    sandbox = ensure_sandbox_server(settings.data_dir)
    urls = EnvironmentUrls(sandbox.url, sandbox.url)
    base = ClientConfig.from_settings(settings, app_key=sandbox.app_key)
    return ClientConfig(
        app_key=base.app_key,
        production=urls,
        integration=urls,
        rate_limit_per_second=base.rate_limit_per_second,
        token_refresh_threshold_seconds=base.token_refresh_threshold_seconds,
        connect_timeout_seconds=base.connect_timeout_seconds,
        read_timeout_seconds=base.read_timeout_seconds,
    )
