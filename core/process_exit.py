"""Leaving the process without tripping over the Temporal client's background threads.

The Temporal SDK's Rust core keeps threads that can outlive the event loop; if CPython's
finalization runs while they hold on, the process aborts with "PyGILState_Release: thread
state … must be current" (temporalio/sdk-python#300, still open). Entry points therefore
flush everything and leave with ``os._exit`` once their work is done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Flush logs and streams, then exit without interpreter finalization."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def exit_code(error: SystemExit) -> int:
    """What a SystemExit means as an exit status (printing a message code like Python does)."""
    if error.code is None:
        return 0
    if isinstance(error.code, int):
        return error.code
    print(error.code, file=sys.stderr)
    return 1
