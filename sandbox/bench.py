"""How fast the real server process serves a full export: ``python -m sandbox bench``.

Starts ``python -m sandbox serve`` as a child process (one uvicorn process, as the demo and
benchmarks run it), then pulls the whole invoice export with a plain ``httpx.Client``
following ``continueFrom`` and parsing every page with orjson, and reports records/s and
pages/s per round. Round 1 generates every page; later rounds show the page cache's effect
(pages are cached only while they fit ``--page-cache-mb``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from sandbox.config import DEFAULT_APP_KEY, default_client_id, default_client_secret

TENANT = 4242


def _wait_for_port(path: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}")
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(path.read_text().strip())
        time.sleep(0.05)
    raise TimeoutError("sandbox did not write its port file")


def export_all(client: httpx.Client, base_url: str, headers: dict[str, str]) -> tuple[int, int]:
    """(records, pages) of one full export of invoices."""
    url = f"{base_url}/accounting/v2/tenant/{TENANT}/export/invoices"
    records = pages = 0
    params: dict[str, str] = {}
    while True:
        response = client.get(url, params=params, headers=headers)
        response.raise_for_status()
        body = orjson.loads(response.content)
        records += len(body["data"])
        pages += 1
        params = {"from": body["continueFrom"]}
        if not body["hasMore"]:
            return records, pages


def run_bench(
    *,
    invoices: int,
    customers: int,
    page_size: int,
    rounds: int,
    rate_limit: float,
    page_cache_mb: float,
    warm: bool = False,
    prefetch: bool = True,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        command = [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--tenants",
            f"{TENANT}:{customers}:{invoices}",
            "--export-page-size",
            str(page_size),
            "--rate-limit",
            str(rate_limit),
            "--page-cache-mb",
            str(page_cache_mb),
            "--quiet",
            *(["--warm"] if warm else []),
            *([] if prefetch else ["--no-prefetch"]),
        ]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        process = subprocess.Popen(command, env=env)
        try:
            port = _wait_for_port(port_file, process)
            base_url = f"http://127.0.0.1:{port}"
            results: list[dict[str, Any]] = []
            with httpx.Client(timeout=120) as client:
                token = client.post(
                    f"{base_url}/connect/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": default_client_id(TENANT),
                        "client_secret": default_client_secret(TENANT),
                    },
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}", "ST-App-Key": DEFAULT_APP_KEY}
                for n in range(1, rounds + 1):
                    start = time.perf_counter()
                    records, pages = export_all(client, base_url, headers)
                    elapsed = time.perf_counter() - start
                    results.append(
                        {
                            "round": n,
                            "records": records,
                            "pages": pages,
                            "seconds": round(elapsed, 3),
                            "records_per_second": round(records / elapsed),
                            "pages_per_second": round(pages / elapsed, 1),
                        }
                    )
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    return {
        "invoices": invoices,
        "page_size": page_size,
        "rate_limit": rate_limit or None,
        "page_cache_mb": page_cache_mb,
        "warm": warm,
        "prefetch": prefetch,
        "rounds": results,
    }
