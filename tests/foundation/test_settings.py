"""A wrong configuration value stops start-up with a message that names the variable."""

from __future__ import annotations

import pytest

from core.settings import ConfigurationError, load_settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TEMPORAL_ADDRESS", "no-port-here"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("SERVICETITAN_API_URL_PRODUCTION", "not a url"),
        ("SERVICETITAN_RATE_LIMIT_PER_SECOND", "-3"),
        ("LOG_LEVEL", "chatty"),
        ("METRICS_ADDRESS", "9464"),
        ("SYNC_ENABLED", "perhaps"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(_env_file=None)


def test_defaults_are_embedded_and_point_at_real_servicetitan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "SERVICETITAN_APP_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.embedded_postgres and settings.embedded_temporal and settings.sandbox_mode
    assert settings.temporal_task_queue == "servicetitan-sync"
    assert settings.auth_url("production") == "https://auth.servicetitan.io"
    assert settings.api_url("integration") == "https://api-integration.servicetitan.io"


def test_configured_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/sync")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("SERVICETITAN_APP_KEY", "ak1.x")
    settings = load_settings(_env_file=None)
    assert not settings.embedded_postgres and not settings.embedded_temporal
    assert not settings.sandbox_mode
    assert "p@db" not in repr(settings)  # the password is a SecretStr
