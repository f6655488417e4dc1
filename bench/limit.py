"""The limit: the least work that moves the same records from the API into PostgreSQL.

One ``httpx.Client``, one connection, one loop per feed: GET the export page, parse it with
orjson, COPY every raw record as ``jsonb`` (its id and the record) into a table, commit,
follow ``continueFrom`` until ``hasMore`` is false. No mapping, no validation, no upsert, no
staging, no orchestration, no retries. Whatever our sync does beyond this is what the ratio
"ours / limit" prices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import orjson
import psycopg

from bench.sandbox import token
from servicetitan.pages import ExportStream
from tests.support.processes import SandboxServer

STREAMS = (ExportStream.CUSTOMERS, ExportStream.CUSTOMER_CONTACTS, ExportStream.INVOICES)
APP_KEY = "ak1.sandbox"


@dataclass(frozen=True)
class LimitRun:
    seconds: float
    records: int
    pages: int
    fetch_seconds: float
    """Time spent in GET + parse (the rest is COPY + commit)."""


def run_limit(sandbox: SandboxServer, tenant_id: int, database_url: str) -> LimitRun:
    headers = {"Authorization": f"Bearer {token(sandbox, tenant_id)}", "ST-App-Key": APP_KEY}
    records = pages = 0
    fetch_seconds = 0.0
    with psycopg.connect(database_url) as connection:
        for stream in STREAMS:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS limit_{stream.value} "
                "(id bigint, record jsonb NOT NULL)"
            )
        connection.commit()
        started = time.perf_counter()
        with httpx.Client(base_url=sandbox.url, headers=headers, timeout=120) as http:
            for stream in STREAMS:
                path = stream.path.format(tenant=tenant_id)
                copy_sql = f"COPY limit_{stream.value} (id, record) FROM STDIN"
                params: dict[str, str] = {}
                while True:
                    fetch_started = time.perf_counter()
                    response = http.get(path, params=params)
                    response.raise_for_status()
                    page = orjson.loads(response.content)
                    fetch_seconds += time.perf_counter() - fetch_started
                    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                        for record in page["data"]:
                            copy.write_row((record.get("id"), orjson.dumps(record).decode()))
                    connection.commit()
                    records += len(page["data"])
                    pages += 1
                    if not page["hasMore"]:
                        break
                    params = {"from": page["continueFrom"]}
        seconds = time.perf_counter() - started
    return LimitRun(seconds, records, pages, fetch_seconds)
