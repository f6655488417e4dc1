"""Secrets are masked in every log line, whichever logger wrote it and however it was quoted."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

import pytest
import structlog

from core.crypto import KeyRing, SecretBox, aad_for, generate_key
from core.logging import NOISY, configure_logging, get_logger
from core.redact import REDACTED, redact_text, register_secret
from core.settings import load_settings
from tests.support.processes import ROOT

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


@contextmanager
def _json_logs() -> Iterator[io.StringIO]:
    """Configure JSON logging into a stream, then put the global logging state back."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    # configure_logging quietens these; put them back so later tests see what they expect.
    touched = [logging.getLogger(name) for name in NOISY]
    saved_levels = [logger.level for logger in touched]
    configure_logging("DEBUG", "json", stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for logger, level in zip(touched, saved_levels, strict=True):
            logger.setLevel(level)


def test_structlog_and_stdlib_lines_are_redacted() -> None:
    with _json_logs() as stream:
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
    output = stream.getvalue()
    assert SECRET not in output and TOKEN not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["tenant"] == "1001"  # safe fields survive
    assert lines[0]["client_secret"] == "[REDACTED]"
    assert "exception" in lines[2]


# --- by shape: the forms the first version missed -------------------------------------------


@pytest.mark.parametrize(
    ("sample", "secret"),
    [
        ('{"clientSecret": "Zk3-shape-one"}', "Zk3-shape-one"),
        ("clientSecret=Zk3-shape-two&x=1", "Zk3-shape-two"),
        ('{"accessToken":"Zk3-shape-three"}', "Zk3-shape-three"),
        ("secret=Zk3-shape-four", "Zk3-shape-four"),
        ("{'secret': 'Zk3-shape-five'}", "Zk3-shape-five"),
        ("postgresql://sync:pa/ss-Zk3@db:5432/sync", "pa/ss-Zk3"),
        ("url postgresql://sync:a/b/c@db/sync failed", "a/b/c"),
    ],
)
def test_camel_case_bare_secret_and_url_passwords_with_slashes(sample: str, secret: str) -> None:
    cleaned = redact_text(sample)
    assert secret not in cleaned, cleaned
    assert REDACTED in cleaned


def test_safe_fields_and_plain_urls_survive() -> None:
    body = '{"token_type": "Bearer", "expires_in": 900, "secret_version": 2}'
    assert redact_text(body) == body
    assert redact_text("see https://example.com/a/b") == "see https://example.com/a/b"
    assert redact_text("postgresql://sync@db:5432/sync") == "postgresql://sync@db:5432/sync"


# --- by value: whatever its shape -------------------------------------------------------------


def _opaque() -> str:
    return f"opq{uuid.uuid4().hex[:12]}"


def test_a_registered_secret_is_scrubbed_whatever_surrounds_it() -> None:
    secret = _opaque() + "/+ &é"
    register_secret(secret)
    for text in (
        f"failed: {secret}",
        f"prefix{secret}suffix",
        f"form body a=1&s={quote_plus(secret)}",
        f"path /x/{quote(secret, safe='')}/y",
        json.dumps({"note": f"said {secret}"}),
    ):
        cleaned = redact_text(text)
        assert secret not in cleaned and quote_plus(secret) not in cleaned, cleaned
        assert quote(secret, safe="") not in cleaned and json.dumps(secret)[1:-1] not in cleaned
        assert REDACTED in cleaned


def test_short_values_are_not_registered_so_text_stays_readable() -> None:
    register_secret("abc")
    register_secret("")
    register_secret(None)
    assert redact_text("abc abc") == "abc abc"


def test_what_the_box_decrypts_and_the_keys_it_parses_are_registered() -> None:
    key = generate_key()
    aad = aad_for("servicetitan_credentials", 1, "client_secret")
    plaintext = "received-" + _opaque()
    # Another process encrypted it (so this one never saw the plaintext); this one decrypts.
    ciphertext = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from core.crypto import KeyRing, SecretBox; "
            "print(SecretBox(KeyRing.parse(sys.argv[1])).encrypt(sys.argv[2], aad=sys.argv[3]))",
            key,
            plaintext,
            aad,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert plaintext in redact_text(f"value {plaintext}")  # not known yet
    box = SecretBox(KeyRing.parse(key))
    assert key not in redact_text(f"the key is {key}")
    assert box.decrypt(ciphertext, aad=aad, what="x") == plaintext
    assert plaintext not in redact_text(f"value {plaintext}")
    sent = "sent-" + _opaque()
    box.encrypt(sent, aad=aad)  # a secret the process received (the CLI, a token response)
    assert sent not in redact_text(f"value {sent}")


def test_configured_secrets_are_registered_when_settings_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password, app_key, api_key = "pw/" + _opaque(), "ak9" + _opaque(), "tk" + _opaque()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://sync:{quote(password, safe='')}@db/sync")
    monkeypatch.setenv("SERVICETITAN_APP_KEY", app_key)
    monkeypatch.setenv("TEMPORAL_API_KEY", api_key)
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEYS", generate_key())
    load_settings(_env_file=None)
    for secret in (password, app_key, api_key):
        assert secret not in redact_text(f"oops: {secret} in a message"), secret
    assert quote(password, safe="") not in redact_text(f"dsn=...{quote(password, safe='')}@db")


def test_registered_secrets_are_scrubbed_from_log_lines_and_tracebacks() -> None:
    secret = _opaque()
    register_secret(secret)
    with _json_logs() as stream:
        get_logger("test").info(f"message with {secret}", note=f"field {secret}")
        logging.getLogger("temporalio.test").warning("stdlib %s", secret)
        try:
            raise RuntimeError(f"an opaque token {secret} in an exception")
        except RuntimeError:
            get_logger("test").exception("boom")
    output = stream.getvalue()
    assert output.count("\n") == 3
    assert secret not in output


def test_registered_secrets_are_scrubbed_from_cli_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli import output

    secret = _opaque()
    register_secret(secret)
    output.emit_json({"note": f"json {secret}"})
    output.console.print(f"text {secret}")
    output.table(None, ["column"], [[f"cell {secret}"]])
    output.report_error(f"error {secret}")
    captured = capsys.readouterr()
    assert secret not in captured.out and secret not in captured.err
    assert captured.out.count(REDACTED) == 3 and REDACTED in captured.err
