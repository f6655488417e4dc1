"""Fixtures for the ServiceTitan client tests.

Secret hygiene is checked on every test here: each test's log output (stdlib records at DEBUG,
httpx and httpcore included, and every structlog event) is scanned for the secrets the tests
use and for every access token a token endpoint handed out during the session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from tests.servicetitan.support import SECRETS, SecretRegistry


@pytest.fixture(scope="session")
def secrets() -> SecretRegistry:
    return SECRETS


class CapturedLogs:
    """Everything logged during one test, as text lines (live: read it any time)."""

    def __init__(self, caplog: pytest.LogCaptureFixture, events: list[dict[str, Any]]) -> None:
        self._caplog = caplog
        self._events = events

    def events(self) -> list[dict[str, Any]]:
        return list(self._events)

    def clear(self) -> None:
        self._events.clear()
        self._caplog.clear()

    def lines(self) -> list[str]:
        lines = [repr(event) for event in self._events]
        for record in self._caplog.records:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" {record.exc_info[1]!r}"
            lines.append(f"{record.name}: {text}")
        return lines


@pytest.fixture(autouse=True)
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[CapturedLogs]:
    """Capture every log line of the test; fail it if a secret or token shows up."""
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        capture = CapturedLogs(caplog, events)
        yield capture
    leaked = {secret for line in capture.lines() for secret in SECRETS.leaks(line)}
    assert not leaked, f"{len(leaked)} secret(s) found in captured log lines"
