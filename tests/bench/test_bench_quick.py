"""``python -m bench --quick`` must keep working: every scenario measured, every table exact.

The benchmarks are not pass/fail on speed, but a benchmark that silently stops measuring (a
scenario that no longer runs, a sync that no longer completes, rows that no longer match) is
worse than none. This runs the quick mode as a subprocess against the session's PostgreSQL
(``DATABASE_URL``: the bench creates and drops databases of its own there) and checks its JSON.
Temporal is the bench's own dev server: workflow ids are per credential id, credential ids
restart at 1 in every fresh database, so the session's server could hold another test's run
under the same id.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_ROWS = {
    "throughput": 6,
    "incremental": 4,
    "memory": 2,
    "scaling": 7,
    "resume": 2,
    "fleet": 6,
}
FLEET_TENANTS = 20  # QUICK.fleet_size


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_bench_measures_every_scenario_with_exact_rows(
    postgres_server_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "quick.json"
    env = {**os.environ, "DATABASE_URL": postgres_server_url}
    env.pop("TEMPORAL_ADDRESS", None)
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json-out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["status"] == "ok"

    rows_by_scenario: dict[str, list[dict[str, object]]] = {}
    for row in results["rows"]:
        rows_by_scenario.setdefault(str(row["scenario"]), []).append(row)
    assert {name: len(rows) for name, rows in rows_by_scenario.items()} == EXPECTED_ROWS
    for row in results["rows"]:
        value = row["value"]
        assert isinstance(value, int | float) and value >= 0, row
    ratios = {row["measure"]: row["ratio"] for row in results["rows"]}
    assert ratios["ours: full sync, worker + Temporal"] > 0
    assert ratios["dlt rest_api -> postgres"] > 0
    values = {row["measure"]: row["value"] for row in results["rows"]}
    # Every sync starts a workflow and runs activities: a count of 0 means nothing was read.
    assert values["ours: Temporal actions per 100k records"] > 0
    assert values["Temporal actions, nothing changed"] > 0
    assert values["Temporal actions per scheduled sync"] > 0
    assert values["incremental syncs per minute"] > 0
    assert results["details"]["fleet"]["credentials"] == FLEET_TENANTS

    verified = results["verified"]
    # 2 e2e + 2 incremental + 2 memory + 21 scaling tenants + 16 over two workers + latency +
    # 2 resume + the fleet (the quick run skips the two-worker throughput sync)
    assert len(verified) == 46 + FLEET_TENANTS, sorted(verified)
    fleet = [label for label in verified if label.startswith("fleet tenant")]
    assert len(fleet) == FLEET_TENANTS
    assert all(verified[label]["check"] == "exact" for label in fleet)
    for label, check in verified.items():
        assert check["invoices"] == check["expected_invoices"], label
        assert check["members"] == check["expected_members"], label
        assert check["contacts"] > 0, label
    assert verified["e2e full sync"]["check"] == "exact"
    assert verified["e2e full sync, second run"]["check"] == "exact"
    assert verified["incremental sync"]["check"] == "exact"
    assert verified["incremental sync, nothing changed"]["check"] == "exact"
    assert verified["resume after SIGKILL"]["check"] == "exact"
