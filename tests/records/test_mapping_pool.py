"""Pages prepared in the mapping process are the pages prepared in the worker, and the pool
never loses a page or outlives the worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from activities.mapping_pool import MappingPool
from records.prepared import PreparedPage, prepare_page
from tests.records.conftest import RawFactory

ROOT = Path(__file__).resolve().parents[2]
PREFIX = (7, "INT-7", "plumbing", 42, "1001")


def _page(raw_invoice: RawFactory) -> bytes:
    records: list[Any] = [
        raw_invoice(id=1000 + i, customer={"id": 500 + i, "name": f"Ann {i}"}) for i in range(40)
    ]
    records.append(raw_invoice(id=5, total="1e20"))  # out of range: a reject
    records.append(raw_invoice(id=1001, referenceNumber="later copy"))  # supersedes 1001
    return orjson.dumps({"data": records, "hasMore": False, "continueFrom": "next"})


def _same(left: PreparedPage, right: PreparedPage) -> None:
    assert left.batches == right.batches
    assert (left.mapped, left.superseded, left.high_water) == (
        right.mapped,
        right.superseded,
        right.high_water,
    )
    assert [(r.record_id, r.reason) for r in left.rejects] == [
        (r.record_id, r.reason) for r in right.rejects
    ]


async def test_a_page_prepared_in_the_pool_equals_one_prepared_in_process(
    raw_invoice: RawFactory,
) -> None:
    raw = _page(raw_invoice)
    types = {500: "Commercial", 501: "Residential"}
    expected = prepare_page("invoices", raw, types, PREFIX, 16)
    assert expected.mapped == 40 and expected.rejected == 1 and expected.superseded == 1
    assert [batch.rows for batch in expected.batches] == [16, 16, 8]
    pool = MappingPool(1)
    try:
        _same(await pool.prepare("invoices", raw, types, PREFIX, 16), expected)
        (child,) = _children(pool)
        assert child != os.getpid()
    finally:
        pool.close()
    _same(await MappingPool(0).prepare("invoices", raw, types, PREFIX, 16), expected)


async def test_a_killed_pool_process_costs_no_page(raw_invoice: RawFactory) -> None:
    raw = _page(raw_invoice)
    expected = prepare_page("invoices", raw, None, PREFIX, 100)
    pool = MappingPool(1)
    try:
        await pool.prepare("invoices", raw, None, PREFIX, 100)
        (first,) = _children(pool)
        os.kill(first, signal.SIGKILL)
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(first).wait(timeout=10)
        _same(await pool.prepare("invoices", raw, None, PREFIX, 100), expected)  # in the worker
        _same(await pool.prepare("invoices", raw, None, PREFIX, 100), expected)  # a new pool
        (second,) = _children(pool)
        assert second != first
    finally:
        pool.close()


def test_pool_processes_exit_when_the_worker_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from activities.mapping_pool import MappingPool
        pool = MappingPool(1)
        pool.start()
        pool._executor.submit(int).result(timeout=60)
        print(*[p.pid for p in pool._executor._processes.values()], flush=True)
        time.sleep(600)
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert psutil.pid_exists(child)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            pytest.fail(f"mapping process {child} outlived its killed worker")
        time.sleep(0.1)


def _children(pool: MappingPool) -> list[int]:
    executor = pool._executor  # the test looks at the pool's processes
    assert executor is not None
    return [process.pid for process in executor._processes.values() if process.pid]
