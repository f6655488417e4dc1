"""``python worker.py``: configuration errors are one line, Ctrl-C is a clean stop."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.logging import configure_logging, get_logger
from core.process_exit import exit_now
from core.settings import ConfigurationError, load_settings

if TYPE_CHECKING:
    from runtime.worker import Beside


def main(beside: Sequence[Beside] = ()) -> None:
    """Run the worker; ``beside``: services sharing its life (worker.py: the API, embedded)."""
    try:
        settings = load_settings()
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    log = get_logger("worker")
    from runtime.gc_tuning import tune_garbage_collector
    from runtime.worker import run_worker  # after logging is configured

    tune_garbage_collector()  # after the imports: their objects go to the permanent generation

    code = 0
    try:
        asyncio.run(run_worker(settings, beside=beside))
    except KeyboardInterrupt:
        pass
    except Exception as error:
        log.error("worker failed", error=f"{type(error).__name__}: {error}")
        code = 1
    exit_now(code)
