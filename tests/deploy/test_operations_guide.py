"""docs/operations.md against the code it describes: commands and options that exist, settings
that exist, the stack's real image tags, alert names and metric names, links that resolve.

An operations guide that names a flag the CLI does not have, or a variable the product
ignores, fails an operator at the worst moment; these checks make such drift a test failure.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
import yaml

from cli.app import app
from core.config_reference import environment_variables
from tests.deploy.conftest import ALERT_RULES, OPERATIONS_GUIDE
from tests.support.processes import ROOT

GUIDE = OPERATIONS_GUIDE.read_text()

# Variables the guide may name that belong to the images or scripts, not to the product.
INFRASTRUCTURE_VARIABLES = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_PWD",
    "POSTGRES_SEEDS",
    "DB_PORT",
    "TEMPORAL_NAMESPACE_RETENTION",
    # deploy/postgres.env and the role script (deploy/postgres/init-roles.sh)
    "TEMPORAL_DB_PASSWORD",
    "APP_DB_PASSWORD",
    # the Temporal Web UI image (temporalio/ui)
    "TEMPORAL_DISABLE_WRITE_ACTIONS",
    "TEMPORAL_CORS_ORIGINS",
    "TEMPORAL_AUTH_ENABLED",
    "TEMPORAL_AUTH_PROVIDER_URL",
    "TEMPORAL_AUTH_CLIENT_ID",
    "TEMPORAL_AUTH_CLIENT_SECRET",
    "TEMPORAL_AUTH_CALLBACK_URL",
    "TEMPORAL_AUTH_SCOPES",
    # OpenTelemetry's standard variable, read by core/tracing.py and the OTLP exporter
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}

COMMAND = re.compile(
    r"(?:^|[\s`(|])(?:st|python starter\.py|\.venv/bin/python starter\.py)\s+([^`|\n#<;]*)"
)


def _commands() -> list[list[str]]:
    found = []
    for match in COMMAND.finditer(GUIDE):
        words = match.group(1).replace("\\", " ").split()
        if words and not words[0].startswith("-"):
            found.append(words)
    return found


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The command the words name (typer vendors click, so groups are found by shape)."""
    command: Any = typer.main.get_command(app)
    rest = list(words)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def test_the_guide_names_commands() -> None:
    names = {" ".join(words[:2]) for words in _commands()}
    for expected in ("db upgrade", "keys rotate", "credentials add", "alerts"):
        assert any(name.startswith(expected) for name in names), expected


@pytest.mark.parametrize("words", _commands(), ids=lambda words: " ".join(words))
def test_every_command_and_option_exists(words: list[str]) -> None:
    command, rest = _resolve(words)
    runnable = not hasattr(command, "commands") or command.invoke_without_command  # `rejects`
    assert runnable, f"`{' '.join(words)}` is not a command"
    options = {opt for param in command.params for opt in param.opts}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{word} is not an option of {command.name}"


def test_every_variable_named_is_a_setting_or_an_image_variable() -> None:
    named = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`", GUIDE))
    unknown = named - environment_variables() - INFRASTRUCTURE_VARIABLES
    assert not unknown, f"not settings of the product: {sorted(unknown)}"


def test_image_table_matches_the_compose_file(services: dict[str, Any]) -> None:
    for name, service in services.items():
        row = re.search(rf"^\| `{re.escape(name)}` \| ([^|]+) \|", GUIDE, re.MULTILINE)
        assert row, f"service {name} missing from the table in §2"
        if "build" not in service:
            assert f"`{service['image']}`" in row.group(1), name


def test_alerts_and_metrics_are_documented() -> None:
    rules = yaml.safe_load(ALERT_RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert f"`{rule['alert']}`" in GUIDE, rule["alert"]
    for metric in (
        "servicetitan_sync_credential_stale",
        "servicetitan_sync_consecutive_failures",
        "servicetitan_sync_last_success_timestamp_seconds",
        "temporal_activity_schedule_to_start_latency",
    ):
        assert metric in GUIDE
    assert "python starter.py alerts" in GUIDE


def test_the_issue_topics_have_sections() -> None:
    headings = [line.lower() for line in GUIDE.splitlines() if line.startswith("#")]
    for topic in (
        "configuration",
        "onboarding",
        "scaling",
        "key rotation",
        "backfills and full resyncs",
        "alert",
        "upgrading",
        "replay-safe",
    ):
        assert any(topic in heading for heading in headings), topic


def _slug(heading: str) -> str:
    text = heading.lstrip("#").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_links_resolve() -> None:
    anchors = {_slug(line) for line in GUIDE.splitlines() if line.startswith("#")}
    for target in re.findall(r"\]\(([^)]+)\)", GUIDE):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (OPERATIONS_GUIDE.parent / path).exists(), target
        if anchor and not path:
            assert anchor in anchors, f"no heading for #{anchor}"


def test_files_the_guide_points_at_exist() -> None:
    for path in re.findall(r"`((?:deploy|tests|docs)/[\w./-]+)`", GUIDE):
        if path.endswith(".env"):  # made by the operator from its committed template
            path += ".example"
        if "*" not in path:
            assert (ROOT / path).exists(), path
