"""A wrong configuration value stops start-up with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.crypto import DEV_KEY_FILENAME, generate_key
from core.settings import ConfigurationError, load_settings
from tests.support.processes import ROOT


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
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEYS", generate_key())
    settings = load_settings(_env_file=None)
    assert not settings.embedded_postgres and not settings.embedded_temporal
    assert not settings.sandbox_mode
    assert "p@db" not in repr(settings)  # the password is a SecretStr


# --- the development key belongs to the fully embedded mode only ----------------------------

KEY_VARIABLES = ("DATABASE_URL", "TEMPORAL_ADDRESS", "CREDENTIAL_ENCRYPTION_KEYS")


@pytest.mark.parametrize(
    "configured",
    [
        {"DATABASE_URL": "postgresql://u:p@db:5432/sync"},
        {"TEMPORAL_ADDRESS": "temporal:7233"},
        {"DATABASE_URL": "postgresql://u:p@db:5432/sync", "TEMPORAL_ADDRESS": "temporal:7233"},
    ],
)
def test_a_configured_deployment_without_keys_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, configured: dict[str, str]
) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "\n" not in message
    assert "CREDENTIAL_ENCRYPTION_KEYS" in message
    assert "starter.py keys generate" in message


def test_the_fully_embedded_mode_may_use_the_development_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.credential_encryption_keys is None


def test_worker_with_a_database_but_no_keys_exits_with_one_line_and_invents_no_key(
    tmp_path: Path,
) -> None:
    env = {key: value for key, value in os.environ.items() if key not in KEY_VARIABLES}
    env.update(
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
        DATA_DIR=str(tmp_path),
        LOG_FORMAT="json",
    )
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "CREDENTIAL_ENCRYPTION_KEYS" in lines[0] and "keys generate" in lines[0]
    assert not (tmp_path / DEV_KEY_FILENAME).exists()
    assert list(tmp_path.iterdir()) == []
