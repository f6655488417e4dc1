"""Proof that a benchmarked sync was a correct one: the rows it left are exactly right.

A fast sync that writes the wrong rows is worth nothing, so every scenario checks its tables
against the sandbox's ground truth, read from the running server (``/_sandbox/records``, so
mutations made during the run are included). The expected rows come from the same reference
the end-to-end tests use (``tests/sync/harness.py``); a mismatch raises ``BenchFailure``.
Very large tenants (the 1M-record memory run) are checked by row counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import psycopg

from bench.sandbox import ground_truth
from sandbox.state import Sandbox
from tests.support.processes import SandboxServer
from tests.sync.harness import expected_invoices, expected_members, stored_invoices, stored_members


class BenchFailure(Exception):
    """A scenario did not do what it measures (sync failed, rows wrong): the run fails."""


class _RemoteTruth:
    """Quacks like ``Sandbox.expected_state`` for the harness's reference functions."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    def expected_state(self, tenant_id: int, kind: str) -> dict[Any, dict[str, Any]]:
        return {record["id"]: record for record in ground_truth(self.server, tenant_id, kind)}


@dataclass(frozen=True)
class RowCounts:
    invoices: int
    members: int
    contacts: int

    @property
    def total(self) -> int:
        return self.invoices + self.members + self.contacts


def row_counts(database_url: str, tenant_id: int) -> RowCounts:
    tenant = str(tenant_id)
    with psycopg.connect(database_url) as connection:
        counts = [
            connection.execute(
                f"SELECT count(*) FROM {table} WHERE source_tenant_id = %s",  # noqa: S608
                (tenant,),
            ).fetchone()
            for table in ("invoices_stream", "members_stream", "servicetitan_customer_contacts")
        ]
    values = [int(row[0]) if row else 0 for row in counts]
    return RowCounts(*values)


def verify_exact(server: SandboxServer, database_url: str, tenant_id: int) -> RowCounts:
    """Every row field by field; returns the counts. Raises ``BenchFailure`` on a mismatch."""
    truth = cast(Sandbox, _RemoteTruth(server))
    problems = []
    for kind, expected, stored in (
        ("members", expected_members(truth, tenant_id), stored_members(database_url, tenant_id)),
        (
            "invoices",
            expected_invoices(truth, tenant_id),
            stored_invoices(database_url, tenant_id),
        ),
    ):
        if expected != stored:
            missing = expected.keys() - stored.keys()
            extra = stored.keys() - expected.keys()
            differ = [k for k in expected.keys() & stored.keys() if expected[k] != stored[k]]
            problems.append(
                f"tenant {tenant_id} {kind}: {len(expected)} expected, {len(stored)} stored, "
                f"{len(missing)} missing, {len(extra)} extra, {len(differ)} differ "
                f"(e.g. {sorted(differ)[:3]})"
            )
    if problems:
        raise BenchFailure("; ".join(problems))
    return row_counts(database_url, tenant_id)


def verify_counts(
    database_url: str, tenant_id: int, *, invoices: int, customers: int, contacts: int | None
) -> RowCounts:
    """Row counts only (``contacts=None``: any number of contacts)."""
    counts = row_counts(database_url, tenant_id)
    expected = RowCounts(invoices, customers, counts.contacts if contacts is None else contacts)
    if counts != expected:
        raise BenchFailure(f"tenant {tenant_id}: stored {counts}, expected {expected}")
    return counts
