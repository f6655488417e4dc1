"""The one registry of custom search attributes, so runs can be filtered in the Web UI.

Workflows upsert these keys; the embedded server registers them at start-up and the worker
makes sure any other server has them (``core.temporal.ensure_search_attributes``).
Example Web UI query: ``StCredentialId = 7 AND StSyncStatus = "failed"``.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeKey

CREDENTIAL_ID = SearchAttributeKey.for_int("StCredentialId")
COMPANY_ID = SearchAttributeKey.for_int("StCompanyId")
TENANT_ID = SearchAttributeKey.for_keyword("StTenantId")
TRIGGER = SearchAttributeKey.for_keyword("StSyncTrigger")
STATUS = SearchAttributeKey.for_keyword("StSyncStatus")
DATA_TYPE = SearchAttributeKey.for_keyword("StDataType")

ALL_KEYS = (CREDENTIAL_ID, COMPANY_ID, TENANT_ID, TRIGGER, STATUS, DATA_TYPE)

# The names the Temporal CLI's --search-attribute flag uses for each indexed value type.
CLI_TYPE_NAMES: dict[int, str] = {
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "Int",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_TEXT: "Text",
    IndexedValueType.INDEXED_VALUE_TYPE_BOOL: "Bool",
    IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE: "Double",
    IndexedValueType.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
}


def cli_flags() -> list[str]:
    """``--search-attribute NAME=Type`` arguments for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags
