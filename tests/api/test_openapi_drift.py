"""The committed OpenAPI document (docs/openapi.json) is the API: a change to either fails here.

Two comparisons: the document the code defines (``api.openapi.current``, what the
regeneration command writes) must equal the file byte for byte, and the document the running
server serves (with its real settings) must equal the file as JSON, so no setting changes the
published contract either. To accept a reviewed change: ``python -m api.openapi --output
docs/openapi.json``.
"""

from __future__ import annotations

import difflib
import json

from api.openapi import DOCUMENT_PATH, current
from tests.api.server import ApiClient, ApiServer, Transcript

REGENERATE = "python -m api.openapi --output docs/openapi.json"


def test_the_committed_document_is_what_the_code_defines() -> None:
    assert DOCUMENT_PATH.exists(), f"docs/openapi.json is missing; run `{REGENERATE}`"
    committed = DOCUMENT_PATH.read_text(encoding="utf-8")
    defined = current()
    if committed != defined:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                defined.splitlines(keepends=True),
                "docs/openapi.json",
                "the app",
                n=2,
            )
        )
        raise AssertionError(
            f"the API drifted from docs/openapi.json; review, then `{REGENERATE}`:\n{diff[:6000]}"
        )


def test_the_server_serves_the_committed_document(
    api_server: ApiServer, transcript: Transcript
) -> None:
    served = ApiClient(api_server.url, None, transcript).get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


def test_every_documented_operation_names_its_errors_as_problems() -> None:
    """Each operation under the API prefix declares 401 and its error bodies as problem+json."""
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/servicetitan/")
        for method, operation in item.items()
    ]
    assert operations, "no API operation is documented"
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "401" in responses, f"{method.upper()} {path} does not document 401"
        for status, response in responses.items():
            if status[0] in "45":
                media = list(response.get("content", {}))
                assert media == ["application/problem+json"], (
                    f"{method.upper()} {path} documents {status} as {media}"
                )
