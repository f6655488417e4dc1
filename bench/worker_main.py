"""``worker.py`` with instruments: ``python bench/worker_main.py [--profile PREFIX] [--gc-freeze]``.

Runs the worker exactly as ``worker.py`` does (``runtime.main.main``) from the current
directory's checkout, optionally

* ``--profile PREFIX``: its main thread (the event loop) sampled by pyinstrument every
  millisecond, plus garbage-collector time per generation; written to ``PREFIX.txt``,
  ``PREFIX.html`` and ``PREFIX.pyisession`` (``pyinstrument --load``) at shutdown;
* ``--gc-freeze``: ``gc.freeze()`` once the worker's modules are imported, so full collections
  stop rescanning the hundreds of thousands of long-lived objects of temporalio, SQLAlchemy and
  pydantic (an experiment for the runtime: see bench/README.md);
* ``--gc-threshold=A:B:C``: ``gc.set_threshold(A, B, C)`` (``python -m bench.ab
  tuned=.+gc-threshold=50000:20:10``);
* ``--setting=NAME=VALUE``: an environment setting for this worker only, repeatable
  (``python -m bench.ab one=. two=.+setting=SYNC_MAPPING_PROCESSES=2``).

It is started by path with the checkout as working directory, so ``python -m bench.ab`` can run
the worker of another revision with today's instruments. ``runtime.main`` ends the process with
``os._exit``, so the profile is written just before that.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any


class GcClock:
    """Seconds and counts of garbage collections per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.seconds[generation] += time.perf_counter() - self._started
        self.counts[generation] += 1

    def summary(self) -> str:
        parts = (f"gen{g}: {self.counts[g]} in {self.seconds[g]:.3f}s" for g in range(3))
        return "garbage collections: " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--gc-freeze", action="store_true")
    parser.add_argument("--gc-threshold")
    parser.add_argument("--setting", action="append", default=[])
    args = parser.parse_args()
    for setting in args.setting:
        name, _, value = setting.partition("=")
        os.environ[name] = value
    sys.path.insert(0, os.getcwd())
    import runtime.main as worker_main
    import runtime.worker  # noqa: F401  (everything the worker imports, before a freeze)

    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    if args.gc_threshold:
        gc.set_threshold(*(int(part) for part in args.gc_threshold.split(":")))
    if args.profile is None:
        worker_main.main()
        return

    from pyinstrument import Profiler

    clock = GcClock()
    profiler = Profiler(interval=0.001, async_mode="disabled")
    real_exit: Any = getattr(worker_main, "exit_now", None)
    prefix: Path = args.profile

    def write_profile() -> None:
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        prefix.with_suffix(".txt").write_text(clock.summary() + "\n" + text)
        prefix.with_suffix(".html").write_text(profiler.output_html())
        if profiler.last_session is not None:
            profiler.last_session.save(str(prefix.with_suffix(".pyisession")))

    def write_and_exit(code: int) -> None:
        write_profile()
        real_exit(code)

    if real_exit is not None:
        setattr(worker_main, "exit_now", write_and_exit)  # noqa: B010 (typed as NoReturn there)
    profiler.start()
    worker_main.main()
    write_profile()  # an older runtime.main returns instead of calling exit_now


if __name__ == "__main__":
    main()
