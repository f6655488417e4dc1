"""Argument mistakes are one readable line on stderr, never click's usage box or a traceback."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("sync", "abc"), "Invalid value for 'credential'"),
        (("nosuch",), "No such command 'nosuch'"),
        (("credentials", "add", "--company", "1"), "Missing option"),
        (("history", "--limit", "0"), "Invalid value for '--limit'"),
    ],
)
def test_usage_errors_are_one_line(args: tuple[str, ...], expected: str, tmp_path) -> None:
    result = Cli({"DATA_DIR": str(tmp_path)}).run(*args, expect=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "--help" in lines[0] and result.stdout == ""
