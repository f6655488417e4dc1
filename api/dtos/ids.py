"""Ids and times as the API accepts them.

Ids are positive and within PostgreSQL's ``integer``: a larger number cannot name a row, and
refusing it while parsing (422) keeps it away from SQL, where it would be an overflow error
rather than a "not found". Times need a time zone and are converted to UTC while parsing, so
a value at the edge of the calendar fails here (422), not in a later comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, Field

MAX_ID = 2**31 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
CredentialIdPath = Annotated[
    int, Path(alias="credentialId", ge=1, le=MAX_ID, description="Credential id.")
]
CredentialFilter = Annotated[
    int | None, Query(alias="credentialId", ge=1, le=MAX_ID, description="Only this one.")
]
CompanyFilter = Annotated[
    int | None, Query(alias="companyId", ge=1, le=MAX_ID, description="Only this company.")
]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
