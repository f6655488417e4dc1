"""The Grafana, Alertmanager and Prometheus files of the compose stack, parsed and checked
against each other and against docker-compose.yml.

Which metrics the queries and rules name is checked against a real scrape in test_metrics.py;
here: the files load, the services mount them where their configuration says, the dashboard
refers to the provisioned data source and has the sections operations asked for, every route
reaches a defined receiver and matches real alerts, and the new services are as hardened as
the rest of the stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deploy.conftest import COMPOSE_FILE, PROMETHEUS_CONFIG
from tests.observability.promql import (
    ALERTMANAGER,
    DASHBOARDS,
    GRAFANA,
    alert_expressions,
    dashboard_queries,
    names_in,
    read_yaml,
)
from tests.support.processes import ROOT

DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "servicetitan.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return read_yaml(COMPOSE_FILE)["services"]  # type: ignore[no-any-return]


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → host path of a service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            mounts[target] = source
    return mounts


def test_every_provisioning_file_parses() -> None:
    files = [*GRAFANA.rglob("*.yml"), ALERTMANAGER, PROMETHEUS_CONFIG]
    assert len(files) >= 4
    for path in files:
        assert isinstance(read_yaml(path), dict), path
    assert DASHBOARDS
    for path in DASHBOARDS:
        assert isinstance(json.loads(path.read_text()), dict), path


def test_grafana_mounts_its_provisioning_where_grafana_reads_it(services: dict[str, Any]) -> None:
    mounts = _mounts(services["grafana"])
    for path in GRAFANA.rglob("*"):
        if path.is_file():
            source = "./" + str(path.relative_to(ROOT))
            assert source in mounts.values(), f"{source} is not mounted"
    provisioning = {target for target in mounts if target.startswith("/etc/grafana/provisioning/")}
    assert {t.split("/")[4] for t in provisioning} == {"datasources", "dashboards"}
    [provider] = read_yaml(DASHBOARD_PROVIDERS)["providers"]
    folder = provider["options"]["path"]
    for path in DASHBOARDS:
        assert mounts[f"{folder}/{path.name}"] == "./" + str(path.relative_to(ROOT))
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_the_data_source_is_the_stacks_prometheus(services: dict[str, Any]) -> None:
    [source] = read_yaml(DATASOURCES)["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert source["url"] == "http://prometheus:9090"
    assert set(services["prometheus"]["networks"]) & set(services["grafana"]["networks"])
    scrape = read_yaml(PROMETHEUS_CONFIG)["global"]["scrape_interval"]
    assert source["jsonData"]["timeInterval"] == scrape


def test_the_dashboard_covers_the_fleet_and_uses_the_provisioned_source() -> None:
    [source] = read_yaml(DATASOURCES)["datasources"]
    [path] = DASHBOARDS
    dashboard = json.loads(path.read_text())
    panels = dashboard["panels"]
    rows = [panel["title"] for panel in panels if panel["type"] == "row"]
    assert rows == [
        "Fleet freshness",
        "Sync outcomes",
        "ServiceTitan API",
        "Throughput",
        "Worker resources",
        "Temporal task queue backlog",
    ]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), panel["title"]
            assert names_in(expr).metrics, panel["title"]
    _no_overlap(panels)
    # Each topic of the issue has its metric on the dashboard.
    every = " ".join(dashboard_queries().values())
    for metric in (
        "servicetitan_sync_success_age_seconds",
        "servicetitan_sync_data_age_seconds",
        "servicetitan_sync_runs_finished_total",
        "servicetitan_api_request_duration_seconds_bucket",
        "servicetitan_api_throttled_total",
        "servicetitan_sync_records_total",
        "servicetitan_worker_memory_rss_bytes",
        "temporal_activity_schedule_to_start_latency_bucket",
    ):
        assert metric in every, metric


def _no_overlap(panels: list[dict[str, Any]]) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_the_new_alerts_watch_freshness_throttling_and_tokens() -> None:
    rules = alert_expressions()
    watched = {alert: names_in(expr).metrics for alert, expr in rules.items()}
    assert "servicetitan_sync_success_age_seconds" in watched["ServiceTitanStreamNotRefreshed"]
    assert "servicetitan_api_throttled_total" in watched["ServiceTitanApiThrottleStorm"]
    assert "servicetitan_api_token_requests_total" in watched["ServiceTitanTokenRequestsFailing"]
    assert 'outcome!="issued"' in rules["ServiceTitanTokenRequestsFailing"]


def test_every_route_reaches_a_receiver_and_matches_real_alerts(
    services: dict[str, Any],
) -> None:
    config = read_yaml(ALERTMANAGER)
    receivers = {receiver["name"] for receiver in config["receivers"]}
    alerts = set(alert_expressions())
    severities = {
        rule["labels"]["severity"]
        for group in read_yaml(ROOT / "deploy" / "prometheus" / "alerts.yml")["groups"]
        for rule in group["rules"]
    }
    used = {config["route"]["receiver"]}
    for route in config["route"]["routes"]:
        used.add(route["receiver"])
        assert route["receiver"] in receivers
        for matcher in route["matchers"]:
            label, op, value = re.fullmatch(r'(\w+)\s*(=~|=)\s*"(.*)"', matcher).groups()  # type: ignore[union-attr]
            candidates = alerts if label == "alertname" else severities
            pattern = value if op == "=~" else re.escape(value)
            assert any(re.fullmatch(pattern, c) for c in candidates), matcher
    assert used == receivers, "a receiver no route uses"
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            value = matcher.split('"')[1]
            assert any(re.fullmatch(value, alert) for alert in alerts), matcher
    assert config["route"]["group_by"] == ["alertname", "credential_id"]
    # Prometheus sends to it, at the address and port the service listens on.
    targets = read_yaml(PROMETHEUS_CONFIG)["alerting"]["alertmanagers"][0]["static_configs"]
    assert targets == [{"targets": ["alertmanager:9093"]}]
    alertmanager = services["alertmanager"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    assert _mounts(alertmanager)["/etc/alertmanager/alertmanager.yml"] == (
        "./deploy/alertmanager/alertmanager.yml"
    )
    assert "127.0.0.1:9093:9093" in alertmanager["ports"]


@pytest.mark.parametrize("name", ["grafana", "alertmanager"])
def test_the_new_services_are_hardened_like_the_rest(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert all(str(port).startswith("127.0.0.1:") for port in service["ports"])
    assert service["networks"] == ["app"], "no database access"
    assert service["healthcheck"]["test"]
    # Their state lives in a named volume (read-only root file system).
    declared = set(read_yaml(COMPOSE_FILE)["volumes"])
    volumes = [v.split(":")[0] for v in service["volumes"] if not v.startswith(".")]
    assert volumes and set(volumes) <= declared


def test_grafana_has_no_anonymous_access_and_its_password_in_an_env_file(
    services: dict[str, Any],
) -> None:
    grafana = services["grafana"]
    environment = grafana["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert not [key for key in environment if "PASSWORD" in key]
    assert grafana["env_file"] == ["deploy/grafana.env"]
    example = (ROOT / "deploy" / "grafana.env.example").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD=change-me" in example
    readers = [
        name for name, s in services.items() if "deploy/grafana.env" in s.get("env_file", [])
    ]
    assert readers == ["grafana"]
