"""The base of every request and response body: camelCase on the wire, snake_case in Python.

Response models are filled straight from the service layer's dataclasses
(``from_attributes``), so a field the service does not return cannot be rendered by mistake.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        extra="forbid",
    )

    @classmethod
    def of(cls, value: object) -> Self:
        """Render a service result (a dataclass or any object with these attributes)."""
        return cls.model_validate(value, from_attributes=True)
