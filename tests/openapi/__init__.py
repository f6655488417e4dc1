"""ServiceTitan's OpenAPI component schemas, vendored as test data (see README.md here)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS_PATH = Path(__file__).parent / "selected-schemas.json"


@cache
def load_schemas() -> dict[str, Any]:
    """The component schemas by name (``Accounting.V2.ExportInvoiceResponse`` …)."""
    schemas: dict[str, Any] = json.loads(SCHEMAS_PATH.read_text())
    return schemas
