"""The peer: what a user might build with dlt instead of this product.

A ``dlt`` pipeline with the stock ``rest_api`` source: OAuth2 client credentials against the
sandbox's ``/connect/token``, the ``ST-App-Key`` header, the stock cursor paginator
(``continueFrom`` into ``from``, stopping on ``hasMore``), the three export feeds with
``primary_key=id`` and ``write_disposition=merge`` (an upsert, like ours), loaded into the same
PostgreSQL in a schema of its own. dlt's defaults otherwise: nested lists (invoice items,
customer contacts' nothing) become child tables, as a dlt user would get them.

It runs in a child process (``python -m bench.dlt_peer``) so its imports, threads and
memory do not mix with the benchmark's own, with telemetry off and its state under the run's
working directory: nothing leaves loopback. The child reports the time of ``pipeline.run``
alone (extract, normalize, load), as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.verify import BenchFailure

ROOT = Path(__file__).resolve().parent.parent
APP_KEY = "ak1.sandbox"
FEEDS = {
    "customers": "crm/v2/tenant/{tenant}/export/customers",
    "customer_contacts": "crm/v2/tenant/{tenant}/export/customers/contacts",
    "invoices": "accounting/v2/tenant/{tenant}/export/invoices",
}


@dataclass(frozen=True)
class DltRun:
    seconds: float
    records: dict[str, int]
    """Rows dlt loaded into each feed's root table."""

    @property
    def total(self) -> int:
        return sum(self.records.values())


def dlt_environment(workdir: Path) -> dict[str, str]:
    """No telemetry, no network but loopback, state under ``workdir``."""
    return {
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(workdir / "dlt-data"),
        "DLT_PROJECT_DIR": str(workdir),
        "RUNTIME__LOG_LEVEL": "WARNING",
    }


def run_dlt(
    *, sandbox_url: str, tenant_id: int, database_url: str, workdir: Path, timeout: float
) -> DltRun:
    """Run the pipeline in a child process; raises ``BenchFailure`` if it fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "bench.dlt_peer",
        "--sandbox-url",
        sandbox_url,
        "--tenant",
        str(tenant_id),
        "--database-url",
        database_url,
        "--workdir",
        str(workdir),
    ]
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **dlt_environment(workdir)},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        tail = completed.stderr.decode(errors="replace")[-3000:]
        raise BenchFailure(f"dlt pipeline failed ({completed.returncode}): {tail}")
    report = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return DltRun(seconds=report["seconds"], records=report["records"])


def _source(sandbox_url: str, tenant_id: int) -> Any:
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source(
        {
            "client": {
                "base_url": f"{sandbox_url}/",
                "headers": {"ST-App-Key": APP_KEY},
                "auth": {
                    "type": "oauth2_client_credentials",
                    "access_token_url": f"{sandbox_url}/connect/token",
                    "client_id": f"cid.sandbox-{tenant_id}",
                    "client_secret": f"cs1.sandbox-{tenant_id}",
                },
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "continueFrom",
                    "cursor_param": "from",
                    "has_more_path": "hasMore",
                },
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"data_selector": "data"},
            },
            "resources": [
                {"name": name, "endpoint": {"path": path.format(tenant=tenant_id)}}
                for name, path in FEEDS.items()
            ],
        }
    )


def _dlt_credentials(database_url: str) -> str:
    """A connection string dlt accepts; pgserver's socket directory travels as ``?host=``.

    libpq lets a ``host`` query parameter override the URL's host, and dlt needs *some* host
    in the URL itself.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    if parts.hostname:
        return database_url
    netloc = f"{parts.netloc.rstrip('@')}@localhost" if "@" in parts.netloc else "localhost"
    return urlunsplit(parts._replace(netloc=netloc))


def _child(args: argparse.Namespace) -> None:
    import dlt
    import psycopg

    source = _source(args.sandbox_url, args.tenant)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_dlt_{args.tenant}",
        destination=dlt.destinations.postgres(credentials=_dlt_credentials(args.database_url)),
        dataset_name="dlt_bench",
        pipelines_dir=str(Path(args.workdir) / "pipelines"),
        progress=None,
    )
    started = time.perf_counter()
    pipeline.run(source)
    seconds = time.perf_counter() - started
    records = {}
    with psycopg.connect(args.database_url) as connection:
        for name in FEEDS:
            row = connection.execute(f"SELECT count(*) FROM dlt_bench.{name}").fetchone()  # noqa: S608
            records[name] = int(row[0]) if row else 0
    print(json.dumps({"seconds": seconds, "records": records}))


def main() -> None:
    parser = argparse.ArgumentParser(description="the dlt peer (run by python -m bench)")
    parser.add_argument("--sandbox-url", required=True)
    parser.add_argument("--tenant", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workdir", required=True)
    _child(parser.parse_args())


if __name__ == "__main__":
    main()
