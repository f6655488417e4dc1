"""Fixtures of the reliability suite: seeded randomness, the figures table, secret scanning.

* ``reliability_seed`` — one seed per session (``RELIABILITY_SEED`` to replay a run); every
  random choice of the suite derives from it, and the summary prints it.
* ``report`` — the session's figures; ``pytest_terminal_summary`` prints them as a table.
* ``secret_ledger`` — the test secrets (client secrets, encryption keys, the app key, every
  sandbox token) and the artefacts scanned for them. ``database_url`` is overridden here so
  every database a reliability test used is scanned (all text, JSON and bytea columns) before
  it is dropped; the test fails at teardown if a secret is found in clear.
* ``harness`` — the shared one of tests/sync/harness.py, inside ``captured_logs``: the
  worker's whole life is logged into the scan.
* the secret scan (test_secrets.py) runs after every other test of the suite.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from tests.reliability.support import LogCapture, ReliabilityReport, SecretLedger, capture_logs
from tests.sync.harness import SyncHarness

_REPORT = pytest.StashKey[ReliabilityReport]()
_LEDGER = pytest.StashKey[SecretLedger]()


def _session_seed() -> int:
    configured = os.environ.get("RELIABILITY_SEED")
    return int(configured) if configured else random.SystemRandom().randrange(1, 10**6)


@pytest.fixture(scope="session")
def report(pytestconfig: pytest.Config) -> ReliabilityReport:
    if _REPORT not in pytestconfig.stash:
        pytestconfig.stash[_REPORT] = ReliabilityReport(seed=_session_seed())
    return pytestconfig.stash[_REPORT]


@pytest.fixture(scope="session")
def reliability_seed(report: ReliabilityReport) -> int:
    return report.seed


@pytest.fixture
def rng(reliability_seed: int, request: pytest.FixtureRequest) -> random.Random:
    """A random source per test, derived from the session seed and the test's name."""
    return random.Random(f"{reliability_seed}:{request.node.nodeid}")


@pytest.fixture(scope="session")
def secret_ledger(pytestconfig: pytest.Config, encryption_keys: str) -> SecretLedger:
    if _LEDGER not in pytestconfig.stash:
        ledger = SecretLedger()
        for number, key in enumerate(encryption_keys.split(","), start=1):
            ledger.add_secret(key, f"credential encryption key #{number}")
        ledger.add_secret("ak1.sandbox", "the ServiceTitan app key")
        pytestconfig.stash[_LEDGER] = ledger
    return pytestconfig.stash[_LEDGER]


@pytest.fixture
def database_url(
    database_url: str, secret_ledger: SecretLedger, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The parent fixture's fresh database, scanned for secrets before it is dropped."""
    yield database_url
    found = secret_ledger.check_database(database_url, request.node.name)
    found += secret_ledger.check_files()
    assert not found, f"secrets in clear: {found}"


@pytest.fixture
def captured_logs(
    secret_ledger: SecretLedger, request: pytest.FixtureRequest
) -> Iterator[LogCapture]:
    """The test process's logs (in-process workers log here), scanned at the end of the test."""
    with capture_logs() as capture:
        yield capture
    found = secret_ledger.check_text(capture.text(), f"logs of {request.node.name}", kind="log")
    assert not found, f"secrets in clear: {found}"


@pytest.fixture
def harness(captured_logs: LogCapture, harness: SyncHarness) -> SyncHarness:
    """The shared harness, started after (and so stopped before) this test's log capture."""
    return harness


SCANS_LAST = "test_secrets.py"
"""Its closing scan reads every workflow history and log of the session: it must run last."""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the secret scan after everything else (tests/conftest.py already puts this suite
    last; ``trylast`` runs this after that sort)."""
    items.sort(key=lambda item: item.path.name == SCANS_LAST)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    report = config.stash.get(_REPORT, None)
    if report is None or not report.scenarios:
        return
    terminalreporter.section("reliability summary")
    for line in report.lines():
        terminalreporter.write_line(line)
