"""The API's OpenAPI document, and ``python -m api.openapi`` to write ``docs/openapi.json``.

The document is committed so API changes show up in review; a test fails when the app's
schema and the file differ. Regenerate with::

    python -m api.openapi > docs/openapi.json     # or: python -m api.openapi --output FILE

FastAPI documents errors as ``application/json`` with its own validation shape; here every
error response (4xx/5xx) is ``application/problem+json`` with the ``Problem`` schema, which is
what the app sends.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi

from api.problems import KINDS, MEDIA_TYPE

if TYPE_CHECKING:
    from fastapi import FastAPI

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_TITLES = {status: title for status, title in KINDS.values()}
# Authenticated routes can always answer these, whatever they do (503: PostgreSQL or
# Temporal stopped answering mid-request).
_AUTH_STATUSES = ("401", "413", "429", "500", "503")


def document(app: FastAPI) -> dict[str, Any]:
    """The app's schema with problem+json errors (cached on the app, like FastAPI's own)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _problem_responses(operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


def _problem_responses(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security"):
        for status in _AUTH_STATUSES:
            responses.setdefault(status, {"description": _TITLES.get(int(status), "Error")})
    if "requestBody" in operation:  # a body that is not even text (bad UTF-8) is a 400
        responses.setdefault("400", {"description": _TITLES[400]})
    for status, response in responses.items():
        if status[0] in "45":
            if status == "422":
                response["description"] = _TITLES[422]
            response["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
            if status == "429":
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again.",
                        "schema": {"type": "integer"},
                    }
                }


def render(app: FastAPI) -> str:
    return json.dumps(document(app), indent=2, ensure_ascii=False) + "\n"


def current() -> str:
    """The document of the app as the code defines it (no settings from the environment)."""
    from api.app import create_app
    from core.settings import Settings

    settings = Settings.model_construct()  # defaults only: the schema depends on no setting
    return render(create_app(settings))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.openapi", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"write here (e.g. {DOCUMENT_PATH.relative_to(DOCUMENT_PATH.parent.parent)})",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when --output is stale")
    args = parser.parse_args(argv)
    text = current()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    existing = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if existing != text:
            print(
                f"{args.output} is out of date; run `python -m api.openapi --output {args.output}`",
                file=sys.stderr,
            )
            return 1
        return 0
    if existing != text:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
