"""docker-compose.yml, read the way Compose reads it (there is no Docker engine here).

Each test names a way the stack could be wrong without anyone noticing until a deploy: a
floating image tag, a secret typed into the file, a worker variable the product does not read,
a fixed port that breaks ``--scale worker=N``, a Prometheus target that misses replicas.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config_reference import environment_variables
from core.crypto import EncryptionKeyError, KeyRing
from sandbox.server import require_loopback
from tests.deploy.conftest import (
    ALERT_RULES,
    COMPOSE_FILE,
    CONFIGURATION_REFERENCE,
    NAMESPACE_SCRIPT,
    POSTGRES_ENV_EXAMPLE,
    PROMETHEUS_CONFIG,
    WORKER_ENV_EXAMPLE,
)
from tests.support.processes import ROOT
from contracts.search_attributes import ALL_KEYS, CLI_TYPE_NAMES

EXPECTED_SERVICES = {
    "postgres",
    "temporal-schema",
    "temporal",
    "temporal-setup",
    "temporal-ui",
    "migrate",
    "worker",
    "sandbox",
    "prometheus",
}
APP_SERVICES = ("migrate", "worker")
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|API_KEY|APP_KEY|ENCRYPTION_KEYS|DATABASE_URL")
VERSION_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?([-.][A-Za-z0-9.]+)?$")
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def _env_file_keys(path: Path, *, include_commented: bool = False) -> dict[str, str]:
    pattern = re.compile(r"^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    keys: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = pattern.match(line)
        if match and (include_commented or not match.group(1)):
            keys[match.group(2)] = match.group(3)
    return keys


def _image(service: dict[str, Any]) -> tuple[str, str]:
    name, _, tag = service["image"].rpartition(":")
    return (name, tag) if name else (tag, "")


def test_every_service_of_the_stack_is_there(services: dict[str, Any]) -> None:
    assert set(services) == EXPECTED_SERVICES


def test_every_image_is_pinned_to_a_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "image" in service, f"{name}: no image"
        image, tag = _image(service)
        assert tag, f"{name}: {image} has no tag"
        assert tag != "latest" and VERSION_TAG.match(tag), f"{name}: {tag!r} is not a version"
        if "build" in service:
            # Our own image is tagged with the project's version, never a floating tag.
            assert (image, tag) == ("servicetitan-sync", PROJECT_VERSION), name


def test_temporal_schema_tools_match_the_server(services: dict[str, Any]) -> None:
    server = _image(services["temporal"])
    assert server[0] == "temporalio/server"
    for name in ("temporal-schema", "temporal-setup"):
        assert _image(services[name]) == ("temporalio/admin-tools", server[1]), name
    assert _image(services["temporal-ui"])[0] == "temporalio/ui"
    assert _image(services["postgres"])[0] == "postgres"
    assert _image(services["prometheus"])[0] == "prom/prometheus"


def test_postgresql_and_prometheus_keep_their_data_in_volumes(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = set(compose.get("volumes") or {})
    mounts = {
        name: {volume.split(":")[1]: volume.split(":")[0] for volume in service.get("volumes", [])}
        for name, service in services.items()
    }
    assert mounts["postgres"]["/var/lib/postgresql/data"] in declared
    assert mounts["prometheus"]["/prometheus"] in declared


def test_bind_mounted_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name}: {source} does not exist"


def test_long_running_services_have_real_health_checks(services: dict[str, Any]) -> None:
    for name in ("postgres", "temporal", "worker", "prometheus", "sandbox"):
        check = services[name].get("healthcheck") or {}
        assert not check.get("disable"), name
        assert check.get("test"), f"{name}: no health check"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # The worker's check is the heartbeat written while it polls, like the image's HEALTHCHECK.
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "runtime.healthcheck",
    ]


def test_start_up_order_migrates_and_sets_temporal_up_before_workers(
    services: dict[str, Any],
) -> None:
    def needs(service: str) -> dict[str, str]:
        return {
            dependency: spec["condition"]
            for dependency, spec in services[service].get("depends_on", {}).items()
        }

    assert needs("temporal-schema") == {"postgres": "service_healthy"}
    assert needs("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert needs("temporal-setup") == {"temporal": "service_healthy"}
    assert needs("migrate") == {"postgres": "service_healthy"}
    assert needs("worker") == {
        "migrate": "service_completed_successfully",
        "temporal-setup": "service_completed_successfully",
    }
    assert services["migrate"]["command"] == ["python", "starter.py", "db", "upgrade"]
    assert services["worker"]["command"] == ["python", "worker.py"]


def test_secrets_come_from_env_files_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            assert not SECRET_NAME.search(key), f"{name}: secret {key}={value!r} inline"
    for name in APP_SERVICES:
        assert services[name]["env_file"] == ["deploy/worker.env"], name
    for name in ("postgres", "temporal-schema", "temporal"):
        assert services[name]["env_file"] == ["deploy/postgres.env"], name
    # The real env files are never committed; their templates are.
    ignored = (ROOT / "deploy" / ".gitignore").read_text().split()
    assert "*.env" in ignored
    assert WORKER_ENV_EXAMPLE.is_file() and POSTGRES_ENV_EXAMPLE.is_file()


def test_env_file_templates_hold_placeholders_and_product_settings_only() -> None:
    worker = _env_file_keys(WORKER_ENV_EXAMPLE)
    assert {"DATABASE_URL", "CREDENTIAL_ENCRYPTION_KEYS", "SERVICETITAN_APP_KEY"} <= set(worker)
    every = _env_file_keys(WORKER_ENV_EXAMPLE, include_commented=True)
    unknown = set(every) - environment_variables()
    assert not unknown, f"not settings of the product: {sorted(unknown)}"
    # A template copied without editing must stop the workers, not run them on a shared,
    # published key: the placeholder is not a Fernet key.
    with pytest.raises(EncryptionKeyError):
        KeyRing.parse(worker["CREDENTIAL_ENCRYPTION_KEYS"])
    postgres = _env_file_keys(POSTGRES_ENV_EXAMPLE)
    assert postgres["POSTGRES_PASSWORD"] == postgres["POSTGRES_PWD"]
    assert (
        f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/"
        in (worker["DATABASE_URL"])
    )


def test_worker_environment_names_are_documented_settings(services: dict[str, Any]) -> None:
    reference = CONFIGURATION_REFERENCE.read_text()
    settings = environment_variables()
    for name in (*APP_SERVICES, "sandbox"):
        for key in _environment(services[name]):
            assert key in settings, f"{name}: {key} is not read by the product"
            assert f"`{key}`" in reference, f"{name}: {key} missing from docs/configuration.md"


def test_worker_scales(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker, "a fixed host port stops `--scale worker=N`"
    # Docker's stop timeout must cover the graceful shutdown, or deploys SIGKILL activities.
    grace = float(_environment(worker)["WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
    assert _seconds(worker["stop_grace_period"]) > grace


def test_host_ports_are_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published publicly"


def test_prometheus_scrapes_every_worker_replica(services: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_job = jobs["servicetitan-sync-worker"]
    (discovery,) = worker_job["dns_sd_configs"]
    host, port = _environment(services["worker"])["METRICS_ADDRESS"].rsplit(":", 1)
    assert host == "0.0.0.0"  # noqa: S104 - inside the container, scraped over the network
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    assert discovery["port"] == int(port)
    temporal_port = _environment(services["temporal"])["PROMETHEUS_ENDPOINT"].rsplit(":", 1)[1]
    assert jobs["temporal-server"]["static_configs"][0]["targets"] == [f"temporal:{temporal_port}"]
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_alert_rules_cover_the_documented_signals() -> None:
    rules = yaml.safe_load(ALERT_RULES.read_text())
    exprs = " ".join(rule["expr"] for group in rules["groups"] for rule in group["rules"])
    for metric in (
        "servicetitan_sync_credential_stale",
        "servicetitan_sync_consecutive_failures",
        "servicetitan_sync_last_success_timestamp_seconds",
        'up{job="servicetitan-sync-worker"}',
    ):
        assert metric in exprs
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_namespace_and_search_attributes_are_set_up_before_workers(
    services: dict[str, Any],
) -> None:
    script = NAMESPACE_SCRIPT.read_text()
    registered = dict(re.findall(r"^ensure_search_attribute (\w+) (\w+)$", script, re.MULTILINE))
    assert registered == {key.name: CLI_TYPE_NAMES[key.indexed_value_type] for key in ALL_KEYS}
    setup = _environment(services["temporal-setup"])
    assert setup["TEMPORAL_NAMESPACE"] == _environment(services["worker"])["TEMPORAL_NAMESPACE"]
    assert setup["TEMPORAL_ADDRESS"] == _environment(services["worker"])["TEMPORAL_ADDRESS"]


def test_namespace_script_is_idempotent_against_a_real_server(
    external_temporal: str, tmp_path: Path
) -> None:
    """The compose one-shot, run with the same CLI against a live server, twice."""
    cli = shutil.which("temporal", path=str(ROOT / ".venv" / "bin")) or "temporal"
    env = {
        "PATH": f"{Path(cli).parent}:/usr/bin:/bin",
        "TEMPORAL_ADDRESS": external_temporal,
        "TEMPORAL_NAMESPACE": "compose-setup-check",
        "HOME": str(tmp_path),
    }
    for run in ("create", "again"):
        done = subprocess.run(
            ["sh", str(NAMESPACE_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{run}: {done.stderr}"
    assert "namespace compose-setup-check exists" in done.stdout
    for key in ALL_KEYS:
        assert f"search attribute {key.name} exists" in done.stdout


def test_sandbox_is_an_opt_in_demo_reachable_only_inside_the_stack(
    services: dict[str, Any],
) -> None:
    sandbox = services["sandbox"]
    assert sandbox["profiles"] == ["demo"]
    assert "ports" not in sandbox
    assert sandbox.get("env_file") == [], "the sandbox needs no secrets"
    command = sandbox["command"]
    assert "--allow-non-loopback" in command
    port = command[command.index("--port") + 1]
    demo = _env_file_keys(WORKER_ENV_EXAMPLE, include_commented=True)
    assert demo["SERVICETITAN_API_URL_PRODUCTION"] == f"http://sandbox:{port}"
    # Production stays on the real ServiceTitan: the demo lines are commented out.
    assert "SERVICETITAN_API_URL_PRODUCTION" not in _env_file_keys(WORKER_ENV_EXAMPLE)


def test_sandbox_refuses_a_public_address_without_the_demo_flag() -> None:
    with pytest.raises(ValueError, match="allow-non-loopback"):
        require_loopback("0.0.0.0")  # noqa: S104
    require_loopback("0.0.0.0", allow_non_loopback=True)  # noqa: S104
    refused = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--quiet"],  # noqa: S104
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "loopback only" in refused.stderr


def _compose_cli() -> list[str] | None:
    """`docker compose` (v2), else the standalone `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(_compose_cli() is None, reason="no Compose CLI here")
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """When a Compose CLI is installed (no engine needed), its own parser must accept the
    stack with the env file templates in place, demo profile included."""
    cli = _compose_cli()
    assert cli is not None
    text = COMPOSE_FILE.read_text()
    if cli == ["docker-compose"]:
        # The standalone v1 CLI predates the top-level `name` of the Compose specification.
        text = re.sub(r"^name: .*\n", "", text, flags=re.MULTILINE)
    (tmp_path / "docker-compose.yml").write_text(text)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    for example in (tmp_path / "deploy").glob("*.env.example"):
        shutil.copy(example, example.with_suffix(""))
    done = subprocess.run(
        [*cli, "--profile", "demo", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)["services"]
    assert set(resolved) == EXPECTED_SERVICES
    worker_env = resolved["worker"]["environment"]
    # env_file and environment merged as Compose merges them: secrets from the file.
    assert worker_env["DATABASE_URL"].startswith("postgresql://")
    assert worker_env["METRICS_ADDRESS"] == "0.0.0.0:9464"


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)", str(text))
    assert match, text
    value, unit = int(match.group(1)), match.group(2)
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value
