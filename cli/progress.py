"""Following a running sync: live progress bars from the workflow's ``progress`` query."""

from __future__ import annotations

import asyncio
import contextlib

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from cli.output import console
from contracts.sync import StreamProgress, SyncProgress, SyncResult
from runtime.sync_control import progress
from workflows.sync import SyncWorkflow, describe_failure

LABELS = {"customers": "customers", "customer_contacts": "contacts", "invoices": "invoices"}


def _detail(stream: StreamProgress) -> str:
    state = "done" if stream.done else "…"
    parts = [f"{stream.pages} pages", f"{stream.rejected} rejected"]
    if stream.rate_limit_waits:
        parts.append(f"{stream.rate_limit_waits} rate-limit waits")
    return f"{state} " + ", ".join(parts)


class SyncFailedError(Exception):
    """The sync ended in failure; the message is the readable reason."""


async def follow(
    handle: WorkflowHandle[SyncWorkflow, SyncResult], *, show: bool, interval: float = 0.5
) -> SyncResult:
    """Wait for the sync to finish, drawing a bar per stream when ``show``."""
    result_task = asyncio.ensure_future(handle.result())
    bars: dict[str, TaskID] = {}
    display = Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not show,
    )
    with display:
        while not result_task.done():
            with contextlib.suppress(RPCError):
                _draw(display, bars, await progress(handle))
            await asyncio.wait([result_task], timeout=interval)
        with contextlib.suppress(RPCError, Exception):
            _draw(display, bars, await progress(handle))
    try:
        return result_task.result()
    except WorkflowFailureError as failure:
        raise SyncFailedError(describe_failure(failure.cause or failure)) from None


def _draw(display: Progress, bars: dict[str, TaskID], state: SyncProgress) -> None:
    for stream in state.streams:
        total = stream.estimated_total
        if stream.done:
            total = stream.records
        elif total is not None:
            total = max(total, stream.records)
        if stream.stream not in bars:
            bars[stream.stream] = display.add_task(
                LABELS.get(stream.stream, stream.stream), total=total, detail=""
            )
        display.update(
            bars[stream.stream], completed=stream.records, total=total, detail=_detail(stream)
        )
