"""Shared pieces of the reliability suite: the figures table, the secret ledger, truth and
row counting, credentials, and the CLI. The in-process worker is tests/sync/harness.py's.

Everything that starts a process or a server here stops it by its own handle, and everything
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import structlog
from temporalio.client import Client, WorkflowHandle

from core.crypto import KeyRing, SecretBox
from db import credentials
from db.database import Database
from records.pipeline import map_contacts
from sandbox.config import TenantSpec
from sandbox.generate import Kind
from sandbox.state import Sandbox
from tests.support.processes import ROOT, SandboxServer
from tests.sync.harness import (
    expected_invoices,
    expected_members,
    stored_invoices,
    stored_members,
)

EXPORT_ENDPOINTS = frozenset({"export_invoices", "export_customers", "export_contacts"})

# --------------------------------------------------------------------------------------------
# The figures table
# --------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One row of the summary table printed at the end of the run."""

    name: str
    records: int = 0
    """Records in the feeds the scenario synced (what the sandbox holds)."""
    injected: str = ""
    """Crashes or faults injected, in words ("4 SIGKILL, 1 SIGTERM", "62×429")."""
    expected_rows: int = 0
    found_rows: int = 0
    duplicates: int = 0
    refetched: int = 0
    """Export pages served more than once, counted as extra fetches."""
    seconds: float = 0.0
    note: str = ""


@dataclass
class ReliabilityReport:
    seed: int
    scenarios: list[Scenario] = field(default_factory=list)
    secret_scan: str = ""

    def add(self, scenario: Scenario) -> Scenario:
        self.scenarios.append(scenario)
        return scenario

    def lines(self) -> list[str]:
        header = (
            "scenario",
            "records",
            "crashes / faults injected",
            "rows expected",
            "rows found",
            "dups",
            "refetched",
            "secs",
        )
        rows = [
            (
                s.name,
                str(s.records),
                s.injected,
                str(s.expected_rows),
                str(s.found_rows),
                str(s.duplicates),
                str(s.refetched),
                f"{s.seconds:.1f}",
            )
            for s in self.scenarios
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def fmt(row: tuple[str, ...]) -> str:
            return " | ".join(
                cell.ljust(width) if i in (0, 2) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )

        out = [
            f"seed {self.seed} (rerun with RELIABILITY_SEED={self.seed})",
            fmt(header),
            "-+-".join("-" * w for w in widths),
        ]
        out += [fmt(row) for row in rows]
        notes = [f"  {s.name}: {s.note}" for s in self.scenarios if s.note]
        if notes:
            out += ["notes:", *notes]
        if self.secret_scan:
            out.append(f"secret scan: {self.secret_scan}")
        return out


# --------------------------------------------------------------------------------------------
# Secrets: what must never appear in clear, and where we looked
# --------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# Every access token the sandbox issues starts with this JWT header (sandbox/auth.py), so it
# finds tokens a process sandbox handed out, which the test cannot list one by one.
SANDBOX_TOKEN_PREFIX = _b64url(b'{"alg":"HS256","typ":"at+jwt"}') + "."
SANDBOX_SECRET_PREFIX = "cs1.sandbox-"


class SecretLedger:
    """The secrets of the session, the artefacts that must not hold them, and what was found.

    Findings name the secret by label and the place, never the secret itself.
    """

    def __init__(self) -> None:
        self._needles: dict[str, str] = {
            SANDBOX_TOKEN_PREFIX: "a sandbox access token",
            SANDBOX_SECRET_PREFIX: "a sandbox client secret",
        }
        self.files: dict[Path, str] = {}
        self._file_sizes: dict[Path, int] = {}
        self.findings: list[str] = []
        self.scanned: Counter[str] = Counter()

    def add_secret(self, value: str, label: str) -> None:
        if value and value not in self._needles:
            self._needles[value] = label

    @property
    def needles(self) -> dict[str, str]:
        return dict(self._needles)

    def leaks(self, text: str, needles: dict[str, str] | None = None) -> list[str]:
        return [label for value, label in (needles or self._needles).items() if value in text]

    def check_text(self, text: str, place: str, *, kind: str = "text") -> list[str]:
        found = [f"{label} in {place}" for label in self.leaks(text)]
        self.findings.extend(found)
        self.scanned[kind] += 1
        self.scanned[f"{kind} bytes"] += len(text)
        return found

    def add_file(self, path: Path, place: str) -> None:
        self.files[path] = place

    def check_files(self) -> list[str]:
        """Scan the registered log files that are new or grew since they were last scanned."""
        found: list[str] = []
        for path, place in self.files.items():
            size = path.stat().st_size if path.exists() else -1
            if size < 0 or self._file_sizes.get(path) == size:
                continue
            self._file_sizes[path] = size
            found += self.check_text(path.read_text(errors="replace"), place, kind="log file")
        return found

    def check_database(self, url: str, place: str) -> list[str]:
        found = [f"{label} in {where}" for label, where in database_leaks(url, self._needles)]
        cells = database_cells(url)
        self.scanned["database"] += 1
        self.scanned["database text cells"] += cells
        self.findings.extend(f"{item} ({place})" for item in found)
        return found


TEXT_TYPES = ("text", "character varying", "character", "jsonb", "json", "bytea")


def _text_columns(connection: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    return connection.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = ANY(%s) ORDER BY 1, 2",
        (list(TEXT_TYPES),),
    ).fetchall()


def _as_text(column: str, data_type: str) -> str:
    quoted = f'"{column}"'
    return f"encode({quoted}, 'escape')" if data_type == "bytea" else f"{quoted}::text"


def database_leaks(url: str, needles: dict[str, str]) -> list[tuple[str, str]]:
    """(label, table.column) for every needle found in any text-like column of the database."""
    found: list[tuple[str, str]] = []
    values = list(needles)
    with psycopg.connect(url) as connection:
        for table, column, data_type in _text_columns(connection):
            expression = _as_text(column, data_type)
            rows = connection.execute(
                f"SELECT n FROM unnest(%s::text[]) AS n WHERE EXISTS "  # noqa: S608
                f'(SELECT 1 FROM "{table}" WHERE position(n IN {expression}) > 0)',
                (values,),
            ).fetchall()
            found += [(needles[row[0]], f"{table}.{column}") for row in rows]
    return found


def database_cells(url: str) -> int:
    """How many non-null text-like cells the database holds (what a scan looked at)."""
    total = 0
    with psycopg.connect(url) as connection:
        for table, column, _type in _text_columns(connection):
            row = connection.execute(
                f'SELECT count("{column}") FROM "{table}"'  # noqa: S608
            ).fetchone()
            total += int(row[0]) if row else 0
    return total


def _payload_texts(node: Any, out: list[str]) -> None:
    """Every string of a history's JSON, with payload ``data``/``metadata`` base64 decoded."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("data", "metadata") and isinstance(value, str | dict):
                encoded = value.values() if isinstance(value, dict) else [value]
                for item in encoded:
                    if isinstance(item, str):
                        try:
                            out.append(base64.b64decode(item).decode("utf-8", errors="replace"))
                        except ValueError:
                            out.append(item)
            _payload_texts(value, out)
    elif isinstance(node, list):
        for item in node:
            _payload_texts(item, out)
    elif isinstance(node, str):
        out.append(node)


async def history_text(handle: WorkflowHandle[Any, Any]) -> tuple[str, str]:
    """A workflow run's history as JSON text, and its strings with payloads decoded."""
    history = await handle.fetch_history()
    raw = history.to_json()
    texts: list[str] = []
    _payload_texts(json.loads(raw), texts)
    return raw, "\n".join(texts)


async def workflow_histories(client: Client) -> AsyncIterator[tuple[str, str]]:
    """(workflow id/run id, text) of every execution on the server, payloads decoded."""
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        raw, decoded = await history_text(handle)
        yield f"{execution.id}/{execution.run_id}", f"{raw}\n{decoded}"


class LogCapture:
    """Everything the test process logs (stdlib at DEBUG and every structlog event)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._events: list[Any] = []

    def text(self) -> str:
        return "\n".join([*self.lines, *(repr(event) for event in self._events)])


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name}: {record.getMessage()}"
        except Exception:  # a broken log call must not break the test
            text = f"{record.name}: {record.msg!r} {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + "".join(logging.Formatter().formatException(record.exc_info))
        self._lines.append(text)


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    handler = _ListHandler(capture.lines)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with structlog.testing.capture_logs() as events:
            capture._events = events
            yield capture
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def record_issued_tokens(sandbox: Sandbox, ledger: SecretLedger) -> None:
    """Every token this in-process sandbox issues becomes a needle of the ledger."""
    issue = sandbox.auth.issue

    def recording(*args: Any, **kwargs: Any) -> Any:
        result = issue(*args, **kwargs)
        if isinstance(result, dict) and "access_token" in result:
            ledger.add_secret(result["access_token"], "an access token the sandbox issued")
        return result

    sandbox.auth.issue = recording  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------
# Ground truth and what the database holds
# --------------------------------------------------------------------------------------------


class RemoteTruth:
    """``expected_state`` of a sandbox running as a process (its admin API), for the
    ``expected_*`` helpers of ``tests.sync.harness``."""

    def __init__(self, server: SandboxServer) -> None:
        self._url = server.url

    def expected_state(self, tenant_id: int, kind: str) -> dict[int, dict[str, Any]]:
        response = httpx.get(
            f"{self._url}/_sandbox/records/{tenant_id}/{kind}",
            params={"expected": "true"},
            timeout=60,
        )
        response.raise_for_status()
        records = [orjson.loads(line) for line in response.content.splitlines() if line]
        return {record["id"]: record for record in records}


@dataclass
class Tally:
    """Expected vs stored rows of some tenants (members + invoices + contacts)."""

    expected: int = 0
    found: int = 0
    mismatched: list[str] = field(default_factory=list)

    def add(self, what: str, expected: dict[Any, Any], stored: dict[Any, Any]) -> None:
        self.expected += len(expected)
        self.found += len(stored)
        if expected != stored:
            missing = sorted(set(expected) - set(stored), key=str)[:5]
            extra = sorted(set(stored) - set(expected), key=str)[:5]
            wrong = sorted(
                (k for k in set(expected) & set(stored) if expected[k] != stored[k]), key=str
            )[:5]
            self.mismatched.append(f"{what}: missing {missing}, extra {extra}, differing {wrong}")


def expected_contacts(truth: Any, tenant_id: int) -> dict[int, tuple[Any, ...]]:
    contacts = list(truth.expected_state(tenant_id, "contacts").values())
    return {row.contact_id: row.as_tuple() for row in map_contacts(contacts).rows}


def stored_contacts(database_url: str, tenant_id: int, company_id: int | None = None) -> dict:
    sql = (
        "SELECT contact_id, customer_id, type, value, active, source_modified_at "
        "FROM servicetitan_customer_contacts WHERE source_tenant_id = %s"
    )
    params: list[Any] = [str(tenant_id)]
    if company_id is not None:
        sql += " AND company_id = %s"
        params.append(company_id)
    with psycopg.connect(database_url) as connection:
        return {row[0]: tuple(row) for row in connection.execute(sql, params)}


def tally_tenant(
    database_url: str, truth: Any, tenant_id: int, tally: Tally | None = None
) -> Tally:
    """Compare one tenant's three tables with the truth (whole rows, field by field)."""
    tally = tally or Tally()
    tally.add(
        f"members {tenant_id}",
        expected_members(truth, tenant_id),
        stored_members(database_url, tenant_id),
    )
    tally.add(
        f"invoices {tenant_id}",
        expected_invoices(truth, tenant_id),
        stored_invoices(database_url, tenant_id),
    )
    tally.add(
        f"contacts {tenant_id}",
        expected_contacts(truth, tenant_id),
        stored_contacts(database_url, tenant_id),
    )
    return tally


DUPLICATE_SQL = {
    "invoices_stream": "company_id, software, source_tenant_id, invoice_number",
    "members_stream": "company_id, software, source_tenant_id, customer_id",
    "servicetitan_customer_contacts": "company_id, source_tenant_id, contact_id",
}


def duplicate_rows(database_url: str) -> int:
    """Rows beyond one per natural key, over the three record tables."""
    total = 0
    with psycopg.connect(database_url) as connection:
        for table, key in DUPLICATE_SQL.items():
            row = connection.execute(
                f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}"  # noqa: S608
            ).fetchone()
            total += int(row[0]) if row else 0
    return total


def scalar(database_url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(sql, params).fetchone()
    return row[0] if row else None


async def applied_pages(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute(
            "SELECT coalesce(sum(pages_applied), 0) FROM servicetitan_sync_state"
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def wait_for_pages(database_url: str, pages: int, deadline_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    while await applied_pages(database_url) < pages:
        if loop.time() > deadline:
            raise TimeoutError(f"fewer than {pages} pages applied after {deadline_seconds:.0f}s")
        await asyncio.sleep(0.05)


def export_refetches(snapshot: dict[str, Any]) -> dict[tuple[int, str, str], int]:
    """Export pages served more than once (from a counters snapshot): key → times served."""
    return {
        (page["tenant_id"], page["endpoint"], page["cursor"]): page["served"]
        for page in snapshot["pages"]
        if page["endpoint"] in EXPORT_ENDPOINTS and page["served"] > 1
    }


def extra_fetches(refetched: dict[Any, int]) -> int:
    return sum(count - 1 for count in refetched.values())


def local_refetches(sandbox: Sandbox) -> dict[tuple[int, str, str], int]:
    return {
        key: count
        for key, count in sandbox.counters.refetched().items()
        if key[1] in EXPORT_ENDPOINTS
    }


KINDS: tuple[Kind, ...] = ("customers", "contacts", "invoices")


def feed_records(sandbox: Sandbox, tenant_id: int) -> int:
    """Records the tenant's three export feeds serve now (duplicates and bad ones included)."""
    total = 0
    for kind in KINDS:
        total += sum(1 for _ in sandbox.records(tenant_id, kind))
    return total


# --------------------------------------------------------------------------------------------
# Companies and credentials
# --------------------------------------------------------------------------------------------


async def add_credential(
    database: Database,
    encryption_keys: str,
    spec: TenantSpec,
    *,
    company: str,
    intacct_id: str,
    tenant_id: int | None = None,
    secret: str | None = None,
    environment: str = "production",
    company_id: int | None = None,
) -> tuple[int, int]:
    """A company (unless given) and a credential for a sandbox tenant → (company, credential)."""
    box = SecretBox(KeyRing.parse(encryption_keys))
    async with database.transaction() as connection:
        if company_id is None:
            company_id = await credentials.add_company(
                connection,
                name=company,
                intacct_id=intacct_id,
                primary_trade="Plumbing",
                actor="reliability",
            )
        credential = await credentials.add_credential(
            connection,
            box,
            company_id=company_id,
            tenant_id=str(tenant_id or spec.tenant_id),
            client_id=spec.client_id,
            client_secret=secret or spec.client_secret,
            environment=environment,
            actor="reliability",
        )
    return company_id, credential


# --------------------------------------------------------------------------------------------
# The CLI as an operator runs it
# --------------------------------------------------------------------------------------------


def run_cli(
    args: list[str],
    env: dict[str, str],
    ledger: SecretLedger,
    *,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python starter.py …`` as an operator runs it; its output goes to the secret ledger."""
    result = subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        env={**os.environ, **env, "NO_COLOR": "1", "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    place = f"output of starter.py {' '.join(args[:2])}"
    ledger.check_text(result.stdout + "\n" + result.stderr, place, kind="cli output")
    return result


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started
