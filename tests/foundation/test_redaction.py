"""Secrets are masked in every log line, whichever logger wrote it and however it was quoted."""

from __future__ import annotations

import io
import json
import logging

import structlog

from core.logging import NOISY, configure_logging, get_logger
from core.redact import redact_text

SECRET = "cs1.4f9a8b7c6d5e"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJjbGllbnRfaWQiOiJjaWQueCJ9.c2lnbmF0dXJl"


def test_text_patterns() -> None:
    samples = [
        f"Authorization: Bearer {TOKEN}",
        f"client_secret={SECRET}&grant_type=client_credentials",
        f'{{"access_token": "{TOKEN}", "expires_in": 900}}',
        f"token is {TOKEN}",
        "postgresql://sync:hunter2@db:5432/sync",
        f"app key ak1.abcdef123456 and secret {SECRET}",
    ]
    for sample in samples:
        cleaned = redact_text(sample)
        for secret in (SECRET, TOKEN, "hunter2", "ak1.abcdef123456"):
            assert secret not in cleaned, (sample, cleaned)
    assert "expires_in" in redact_text(samples[2])


def test_structlog_and_stdlib_lines_are_redacted() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    # configure_logging quietens these; put them back so later tests see what they expect.
    touched = [logging.getLogger(name) for name in NOISY]
    saved_levels = [logger.level for logger in touched]
    configure_logging("DEBUG", "json", stream=stream)
    try:
        get_logger("test").info(
            "token fetched",
            client_secret=SECRET,
            headers={"Authorization": f"Bearer {TOKEN}"},
            tenant="1001",
        )
        logging.getLogger("temporalio.test").warning("request failed: Bearer %s", TOKEN)
        try:
            raise RuntimeError(f"bad response for client_secret={SECRET}")
        except RuntimeError:
            get_logger("test").exception("boom")
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for logger, level in zip(touched, saved_levels, strict=True):
            logger.setLevel(level)
    output = stream.getvalue()
    assert SECRET not in output and TOKEN not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["tenant"] == "1001"  # safe fields survive
    assert lines[0]["client_secret"] == "[REDACTED]"
    assert "exception" in lines[2]
