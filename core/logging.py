"""Logging for every entry point: structlog in front, stdlib logging routed through it.

Readable console output on a terminal, JSON lines otherwise (containers, CI, log shippers).
Every record — ours, the Temporal SDK's, httpx's, uvicorn's — passes the redaction processor,
so a secret that slips into a message is masked before it is written anywhere.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict

from core.redact import redact_event, redact_text

_configured = False
NOISY = ("httpx", "httpcore", "alembic", "pgserver", "asyncio")


def _render_exception_redacted(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """Format exc_info into text, then redact it (tracebacks quote arguments and messages)."""
    event_dict = structlog.processors.format_exc_info(logger, method, event_dict)
    if "exception" in event_dict:
        event_dict["exception"] = redact_text(str(event_dict["exception"]))
    return event_dict


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the stdlib root logger once per process (idempotent)."""
    global _configured
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _render_exception_redacted,
        redact_event,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.set_name("servicetitan-sync")

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "servicetitan-sync":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Chatty libraries: their INFO lines are request logs we do not need.
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    _configured = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
