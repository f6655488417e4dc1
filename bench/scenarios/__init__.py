"""The scenarios of issues 8 and 22, in the order a run executes them.

Each is ``async def run(ctx: BenchContext) -> None``: it measures, checks the synced rows and
adds rows to ``ctx.results``; anything that does not work raises ``BenchFailure``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.context import BenchContext
from bench.scenarios import fleet, incremental, memory, resume, scaling, throughput

Scenario = Callable[[BenchContext], Awaitable[None]]

SCENARIOS: dict[str, Scenario] = {
    "throughput": throughput.run,
    "incremental": incremental.run,
    "memory": memory.run,
    "scaling": scaling.run,
    "resume": resume.run,
    "fleet": fleet.run,
}
