"""docs/configuration.md is generated from the settings class and must match it exactly."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from core import config_reference
from core.config_reference import FORMAT_HINTS, entries, render
from core.settings import Settings
from tests.deploy.conftest import CONFIGURATION_REFERENCE


def test_committed_reference_matches_the_settings_class() -> None:
    assert CONFIGURATION_REFERENCE.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `python -m core.config_reference`"
    )


def test_every_setting_has_one_row_with_a_description() -> None:
    text = render()
    for name, info in Settings.model_fields.items():
        rows = [line for line in text.splitlines() if line.startswith(f"| `{name.upper()}`")]
        assert len(rows) == 1, name
        assert info.description, f"{name} has no description for the reference"


def test_secrets_are_marked_and_defaults_do_not_depend_on_the_machine() -> None:
    by_name = {entry.variable: entry for entry in entries()}
    for name, info in Settings.model_fields.items():
        secret = SecretStr in getattr(info.annotation, "__args__", (info.annotation,))
        assert by_name[name.upper()].secret == secret, name
    # Absolute paths would differ per checkout and make the drift test flaky.
    assert by_name["DATA_DIR"].default == "`.data` (in the checkout)"
    assert not re.search(r"`/(home|root|tmp|work)/", render())


def test_format_hints_name_real_settings() -> None:
    assert set(FORMAT_HINTS) <= set(Settings.model_fields)


def test_sections_follow_the_settings_source() -> None:
    sections = [line[3:] for line in render().splitlines() if line.startswith("## ")]
    assert sections[0] == "Infrastructure"
    assert "ServiceTitan" in sections and "Alerts" in sections
    assert len(sections) == len(set(sections)), "a section split in two: fields out of order"


def test_check_mode_detects_drift_and_the_generator_fixes_it(tmp_path: Path) -> None:
    target = tmp_path / "configuration.md"
    target.write_text("stale\n")
    assert config_reference.main(["--check", "--output", str(target)]) == 1
    assert config_reference.main(["--output", str(target)]) == 0
    assert config_reference.main(["--check", "--output", str(target)]) == 0
    assert target.read_text() == render()
