"""The results as one table (stdout) and as JSON (``bench/results/``, git-ignored)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.context import Results, Row

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    return f"{int(value):,}"


def table(rows: list[Row]) -> str:
    """A fixed-width table; also valid Markdown (pipes), so the README can quote it."""
    header = ["scenario", "measure", "value", "baseline (same run)", "ratio", "notes"]
    lines = [header]
    for row in rows:
        baseline = (
            f"{_number(row.baseline)} ({row.baseline_label})" if row.baseline is not None else ""
        )
        ratio = f"{row.ratio:.3g} {row.ratio_label}" if row.ratio is not None else ""
        lines.append(
            [
                row.scenario,
                row.measure,
                f"{_number(row.value)} {row.unit}",
                baseline,
                ratio,
                row.note,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """Enough about the machine to compare runs: cores, memory, CPU model, load."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def git_revision(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_json(
    results: Results, *, plan: str, status: str, seconds: float, root: Path, out: Path | None
) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out or RESULTS_DIR / f"{plan}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "plan": plan,
        "status": status,
        "finished_at": stamp,
        "seconds": round(seconds, 1),
        "revision": git_revision(root),
        "machine": machine(),
        "rows": [row.as_dict() for row in results.rows],
        "verified": results.verified,
        "details": results.details,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
