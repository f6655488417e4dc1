"""docker-compose.yml, read the way Compose reads it (there is no Docker engine here).

Each test names a way the stack could be wrong without anyone noticing until a deploy: a
floating image tag, a secret typed into the file, a worker variable the product does not read,
a fixed port that breaks ``--scale worker=N``, a Prometheus target that misses replicas, a
container with more privileges or reach than it needs, a placeholder password accepted. The
stack's two shell scripts for PostgreSQL run for real: the password check under ``sh``, the
role script against the test session's PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from contracts.search_attributes import ALL_KEYS, CLI_TYPE_NAMES
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

TEMPORAL_ENV_EXAMPLE = ROOT / "deploy" / "temporal.env.example"
POSTGRES_ENTRYPOINT = ROOT / "deploy" / "postgres" / "entrypoint.sh"
ROLES_SCRIPT = ROOT / "deploy" / "postgres" / "init-roles.sh"

EXPECTED_SERVICES = {
    "postgres",
    "temporal-schema",
    "temporal",
    "temporal-setup",
    "temporal-ui",
    "migrate",
    "worker",
    "api",
    "sandbox",
    "prometheus",
    "alertmanager",
    "grafana",
}
APP_SERVICES = ("migrate", "worker", "api")
TEMPORAL_SERVICES = ("temporal-schema", "temporal")
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
    for name in ("postgres", "temporal", "worker", "api", "prometheus", "sandbox"):
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
    assert needs("api") == needs("worker"), "the API needs the schema and the namespace too"
    assert services["migrate"]["command"] == ["python", "starter.py", "db", "upgrade"]
    assert services["worker"]["command"] == ["python", "worker.py"]


def test_secrets_come_from_env_files_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            assert not SECRET_NAME.search(key), f"{name}: secret {key}={value!r} inline"
    for name in APP_SERVICES:
        assert services[name]["env_file"] == ["deploy/worker.env"], name
    # Each env file reaches only the services that need its secrets: the superuser's password
    # only the postgres container, Temporal's role password only Temporal.
    assert services["postgres"]["env_file"] == ["deploy/postgres.env"]
    for name in TEMPORAL_SERVICES:
        assert services[name]["env_file"] == ["deploy/temporal.env"], name
    readers = {
        name: service.get("env_file") for name, service in services.items() if "env_file" in service
    }
    assert {name for name, files in readers.items() if "deploy/postgres.env" in files} == {
        "postgres"
    }
    # The real env files are never committed; their templates are.
    ignored = (ROOT / "deploy" / ".gitignore").read_text().split()
    assert "*.env" in ignored
    for template in (WORKER_ENV_EXAMPLE, POSTGRES_ENV_EXAMPLE, TEMPORAL_ENV_EXAMPLE):
        assert template.is_file(), template


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


def test_each_service_uses_its_own_database_role(services: dict[str, Any]) -> None:
    """The product and Temporal log in with their own roles, never the superuser's."""
    postgres_env = _environment(services["postgres"])
    passwords = _env_file_keys(POSTGRES_ENV_EXAMPLE)
    assert set(passwords) == {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "TEMPORAL_DB_PASSWORD",
        "APP_DB_PASSWORD",
    }
    superuser = passwords["POSTGRES_USER"]
    temporal_role, app_role = postgres_env["TEMPORAL_DB_USER"], postgres_env["APP_DB_USER"]
    assert len({superuser, temporal_role, app_role}) == 3
    # Temporal: its role, with the password the role script sets for it.
    temporal_env = _env_file_keys(TEMPORAL_ENV_EXAMPLE)
    assert set(temporal_env) == {"POSTGRES_PWD"}
    assert temporal_env["POSTGRES_PWD"] == passwords["TEMPORAL_DB_PASSWORD"]
    for name in TEMPORAL_SERVICES:
        assert _environment(services[name])["POSTGRES_USER"] == temporal_role, name
    # The product: its role and database in DATABASE_URL.
    worker = _env_file_keys(WORKER_ENV_EXAMPLE)
    url = f"postgresql://{app_role}:{passwords['APP_DB_PASSWORD']}@postgres:5432/"
    assert worker["DATABASE_URL"] == url + postgres_env["APP_DB_NAME"]
    # The roles come from the init script, mounted where the postgres image runs it.
    assert (
        f"./{ROLES_SCRIPT.relative_to(ROOT)}:/docker-entrypoint-initdb.d/10-roles.sh:ro"
        in (services["postgres"]["volumes"])
    )
    assert "POSTGRES_DB" not in postgres_env, "the role script creates the product's database"


def test_postgres_refuses_to_start_on_a_placeholder_password(
    services: dict[str, Any], tmp_path: Path
) -> None:
    """The postgres service starts through a check that runs on every start."""
    postgres = services["postgres"]
    mounted = f"./{POSTGRES_ENTRYPOINT.relative_to(ROOT)}:/deploy/entrypoint.sh:ro"
    assert mounted in postgres["volumes"]
    assert postgres["entrypoint"] == ["/bin/sh", "/deploy/entrypoint.sh"]
    assert postgres["command"][0] == "postgres"

    # The script itself, under sh, in front of a stand-in for the image's entry point.
    image_entrypoint = tmp_path / "docker-entrypoint.sh"
    image_entrypoint.write_text('#!/bin/sh\necho "image entrypoint: $*"\n')
    image_entrypoint.chmod(0o755)

    def start(**passwords: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{tmp_path}:/usr/bin:/bin", **passwords}
        return subprocess.run(
            ["sh", str(POSTGRES_ENTRYPOINT), "postgres", "-c", "max_connections=500"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    template = _env_file_keys(POSTGRES_ENV_EXAMPLE)
    del template["POSTGRES_USER"]
    refused = start(**template)
    assert refused.returncode != 0 and "image entrypoint" not in refused.stdout
    assert "placeholder" in refused.stderr

    good = {
        "POSTGRES_PASSWORD": "q8Vt2nXc4LrW9sKe1u",
        "TEMPORAL_DB_PASSWORD": "Z3mPq7Rt1yUe5Wa9xv",
        "APP_DB_PASSWORD": "h4Jd8Kf2Ls6Nb0Vc3m",
    }
    for bad, reason in (
        ({"APP_DB_PASSWORD": "Change-Me-Later-Please-1"}, "placeholder"),
        ({"TEMPORAL_DB_PASSWORD": "short-1"}, "shorter than 16"),
        ({"APP_DB_PASSWORD": good["TEMPORAL_DB_PASSWORD"]}, "the same as TEMPORAL_DB_PASSWORD"),
        ({"POSTGRES_PASSWORD": ""}, "POSTGRES_PASSWORD is not set"),
    ):
        refused = start(**{**good, **bad})
        assert refused.returncode != 0, bad
        assert reason in refused.stderr and "image entrypoint" not in refused.stdout, bad
    started = start(**good)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "image entrypoint: postgres -c max_connections=500"


def _psql_bin() -> str:
    """The directory of a psql that has ``\\getenv`` (15+): the test server's own."""
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin")


def test_role_script_makes_least_privilege_roles_and_can_run_again(
    postgres_server_url: str,
) -> None:
    """deploy/postgres/init-roles.sh against a real server, as the postgres image runs it:
    as the superuser over the local connection, with the passwords in the environment."""
    info = conninfo_to_dict(postgres_server_url)
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row is not None
        if not row[1]:
            pytest.skip("the test server's role is not a superuser")
        superuser = row[0]
        suffix = uuid.uuid4().hex[:8]
        names = {
            "TEMPORAL_DB_USER": f"temporal_{suffix}",
            "TEMPORAL_DB_NAME": f"temporal_{suffix}",
            "TEMPORAL_VISIBILITY_DB_NAME": f"temporal_visibility_{suffix}",
            "APP_DB_USER": f"servicetitan_app_{suffix}",
            "APP_DB_NAME": f"servicetitan_{suffix}",
        }
        # A volume from before the roles existed: the product's tables belong to the superuser.
        admin.execute(f'CREATE DATABASE "{names["APP_DB_NAME"]}"')
        legacy = make_conninfo(postgres_server_url, dbname=names["APP_DB_NAME"])
        with psycopg.connect(legacy, autocommit=True) as connection:
            connection.execute("CREATE TABLE companies (id serial PRIMARY KEY, name text)")
        passwords = {
            "TEMPORAL_DB_PASSWORD": "t-" + uuid.uuid4().hex,
            "APP_DB_PASSWORD": "a-" + uuid.uuid4().hex,
        }
        env = {
            "PATH": f"{_psql_bin()}:/usr/bin:/bin",
            "PGHOST": str(info.get("host", "")),
            "PGPORT": str(info.get("port", "5432")),
            "PGPASSWORD": str(info.get("password", "")),
            "POSTGRES_USER": superuser,
            **names,
            **passwords,
        }
        try:
            for run in ("first start", "again"):
                done = subprocess.run(
                    ["sh", str(ROLES_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
                )
                assert done.returncode == 0, f"{run}: {done.stderr}"
                assert passwords["APP_DB_PASSWORD"] not in done.stdout + done.stderr
            _check_roles(admin, postgres_server_url, names, passwords)
        finally:
            for database in ("TEMPORAL_DB_NAME", "TEMPORAL_VISIBILITY_DB_NAME", "APP_DB_NAME"):
                admin.execute(f'DROP DATABASE IF EXISTS "{names[database]}" WITH (FORCE)')
            for role in ("TEMPORAL_DB_USER", "APP_DB_USER"):
                admin.execute(f'DROP ROLE IF EXISTS "{names[role]}"')


def _check_roles(
    admin: psycopg.Connection[Any],
    server_url: str,
    names: dict[str, str],
    passwords: dict[str, str],
) -> None:
    temporal, app = names["TEMPORAL_DB_USER"], names["APP_DB_USER"]
    powers = admin.execute(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
        "rolcanlogin FROM pg_roles WHERE rolname IN (%s, %s) ORDER BY rolname",
        (app, temporal),
    ).fetchall()
    assert powers == [
        (app, False, False, False, False, False, True),
        (temporal, False, False, False, False, False, True),
    ]
    owners = dict(
        admin.execute(
            "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
            "WHERE datname IN (%s, %s, %s)",
            (names["TEMPORAL_DB_NAME"], names["TEMPORAL_VISIBILITY_DB_NAME"], names["APP_DB_NAME"]),
        ).fetchall()
    )
    assert owners == {
        names["TEMPORAL_DB_NAME"]: temporal,
        names["TEMPORAL_VISIBILITY_DB_NAME"]: temporal,
        names["APP_DB_NAME"]: app,
    }

    def login(role: str, database: str) -> psycopg.Connection[Any]:
        password = passwords["APP_DB_PASSWORD" if role == app else "TEMPORAL_DB_PASSWORD"]
        url = make_conninfo(server_url, user=role, password=password, dbname=database)
        return psycopg.connect(url, autocommit=True)

    # The product's role owns its database, the tables made before it existed included, and
    # can run migrations there; it cannot reach Temporal's databases.
    with login(app, names["APP_DB_NAME"]) as connection:
        assert connection.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'companies'"
        ).fetchone() == (app,)
        connection.execute("ALTER TABLE companies ADD COLUMN trade text")
        connection.execute("INSERT INTO companies (name) VALUES ('Acme')")
        connection.execute("CREATE TABLE audit_log (id bigserial PRIMARY KEY)")
    with login(temporal, names["TEMPORAL_DB_NAME"]) as connection:
        connection.execute("CREATE TABLE executions (id bigint PRIMARY KEY)")
    for role, database in (
        (app, names["TEMPORAL_DB_NAME"]),
        (app, names["TEMPORAL_VISIBILITY_DB_NAME"]),
        (temporal, names["APP_DB_NAME"]),
    ):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            login(role, database).close()


def test_temporal_schema_step_uses_temporals_role_and_creates_no_database(
    services: dict[str, Any],
) -> None:
    """Temporal's role may not create databases: the role script makes them; the schema step
    only brings their schemas up to date, with the password the server uses too."""
    script = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    commands = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if re.search(r"\bcreate\b", line)]
    assert "POSTGRES_PWD" in script and "POSTGRES_PASSWORD" not in script


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


def test_api_listens_in_its_container_and_is_published_on_loopback(
    services: dict[str, Any],
) -> None:
    """``starter.py api serve`` on API_HOST/API_PORT: every interface inside the container (or
    the published port would reach nothing), the host side on 127.0.0.1 only, and a health
    check on /readyz of that port (the image's default check is the worker's heartbeat)."""
    api = services["api"]
    env = _environment(api)
    assert api["command"] == ["python", "starter.py", "api", "serve"]
    assert env["API_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert api["ports"] == [f"127.0.0.1:{env['API_PORT']}:{env['API_PORT']}"]
    probe = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{env['API_PORT']}/readyz" in probe
    assert "API_CORS_ORIGINS" not in env, "CORS stays off unless an operator sets origins"


def test_host_ports_are_loopback_only(services: dict[str, Any]) -> None:
    published = set()
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):  # the long syntax
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port} is published publicly"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published publicly"
            published.add(name)
    assert published == {"temporal", "temporal-ui", "prometheus", "alertmanager", "grafana", "api"}


def test_every_container_drops_capabilities_and_privilege_escalation(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        assert service.get("cap_drop") == ["ALL"], name
        assert "cap_add" not in service, name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert not service.get("privileged"), name


def _tmpfs(service: dict[str, Any]) -> dict[str, dict[str, str]]:
    """tmpfs mount point → its options (``/data:uid=10001,mode=0700``)."""
    mounts = service.get("tmpfs", [])
    result = {}
    for mount in [mounts] if isinstance(mounts, str) else mounts:
        path, _, options = mount.partition(":")
        result[path] = dict(option.partition("=")[::2] for option in options.split(",") if option)
    return result


def test_root_filesystems_are_read_only(services: dict[str, Any]) -> None:
    """Every container's root filesystem is read-only; what must be written goes to a tmpfs
    (or a volume) owned by the user the container runs as."""
    for name, service in services.items():
        assert service.get("read_only") is True, name
        assert "/tmp" in _tmpfs(service), name
    # The image's user (Dockerfile USER) owns the one directory the product writes: DATA_DIR.
    dockerfile = (ROOT / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    uid, _, gid = user.partition(":")
    for name in (*APP_SERVICES, "sandbox"):
        data = _tmpfs(services[name])["/data"]
        assert (data["uid"], data["gid"], data["mode"]) == (uid, gid or uid, "0700"), name
    # PostgreSQL runs as its image's unprivileged user from the start (no root, no gosu: that
    # needs capabilities) and keeps its socket and lock file on a tmpfs that user owns.
    postgres = services["postgres"]
    assert postgres["user"] == "999:999"
    socket = _tmpfs(postgres)["/var/run/postgresql"]
    assert (socket["uid"], socket["gid"]) == ("999", "999")


def test_web_ui_is_read_only_by_default(services: dict[str, Any]) -> None:
    """The UI has no login of its own: terminate, reset, signal, start and batch actions stay
    off unless an operator turns them on behind authentication (docs/operations.md)."""
    ui = _environment(services["temporal-ui"])
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert not {key for key in ui if key.startswith("TEMPORAL_AUTH_")}, "OIDC goes in an env file"


def _networks(service: dict[str, Any]) -> set[str]:
    networks = service.get("networks", ["default"])
    return set(networks)


def test_each_container_reaches_only_what_it_needs(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = compose["networks"]
    internal = {name for name, spec in declared.items() if (spec or {}).get("internal")}
    assert {"db", "demo"} <= internal and "app" not in internal
    # PostgreSQL: no route out and no host port; only its clients share its network.
    assert _networks(services["postgres"]) == {"db"}
    on_db = {name for name, service in services.items() if "db" in _networks(service)}
    assert on_db == {"postgres", "temporal-schema", "temporal", "migrate", "worker", "api"}
    # Published ports need a non-internal network; the workers need one to reach ServiceTitan.
    for name, service in services.items():
        if service.get("ports"):
            assert _networks(service) - internal, name
    assert "app" in _networks(services["worker"])


def test_sandbox_is_an_opt_in_demo_reachable_only_inside_the_stack(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    """The sandbox's admin API has no authentication: demo profile only, on an internal
    network that only the workers and the API (connection tests) share, no host port, no
    route out."""
    sandbox = services["sandbox"]
    assert sandbox["profiles"] == ["demo"]
    assert [name for name, service in services.items() if service.get("profiles")] == ["sandbox"]
    assert _networks(sandbox) == {"demo"}
    assert compose["networks"]["demo"]["internal"] is True
    on_demo = {name for name, service in services.items() if "demo" in _networks(service)}
    assert on_demo == {"sandbox", "worker", "api"}
    assert "ports" not in sandbox
    assert sandbox.get("env_file") == [], "the sandbox needs no secrets"
    command = sandbox["command"]
    assert "--allow-non-loopback" in command
    port = command[command.index("--port") + 1]
    demo = _env_file_keys(WORKER_ENV_EXAMPLE, include_commented=True)
    assert demo["SERVICETITAN_API_URL_PRODUCTION"] == f"http://sandbox:{port}"
    # Production stays on the real ServiceTitan: the demo lines are commented out.
    assert "SERVICETITAN_API_URL_PRODUCTION" not in _env_file_keys(WORKER_ENV_EXAMPLE)


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
