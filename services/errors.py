"""What a service refuses, as one exception family the front ends map to exit codes or HTTP.

Each kind has a stable ``kind`` (the API's problem type) and ``status`` (its HTTP status). A
message is safe to show the caller: it never holds a secret and never says whether another
company's object exists (``NotFound`` reads exactly as for a missing one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from contracts.sync import DataType
from core.temporal import TemporalUnavailableError
from db.credentials import ConflictError, NotFoundError
from db.schema import DATA_TYPES


class ServiceError(Exception):
    """Base of every refusal; ``str(error)`` is the message for the caller."""

    kind: ClassVar[str] = "service-error"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """No such object, or one of a company the caller may not see (the same answer)."""

    kind = "not-found"
    status = 404


class Forbidden(ServiceError):
    """The caller sees the object but its role may not do this."""

    kind = "forbidden"
    status = 403


class Conflict(ServiceError):
    """The object's state forbids it now (e.g. a sync runs); ``details`` says which."""

    kind = "conflict"
    status = 409

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details or {}


class Invalid(ServiceError):
    """A value breaks a rule; ``field`` names it (snake_case) when one value is to blame."""

    kind = "invalid"
    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def checked_data_type(value: str) -> DataType:
    """``value`` as a data type, or ``Invalid`` naming the choices (every service takes one)."""
    if value not in DATA_TYPES:
        raise Invalid(
            f"data type must be one of {', '.join(DATA_TYPES)} (got {value!r})", "data_type"
        )
    return value  # type: ignore[return-value]


class Unauthorized(ServiceError):
    """No valid identity."""

    kind = "unauthorized"
    status = 401


class Unavailable(ServiceError):
    """A dependency is down (Temporal) or syncs are switched off; reads may still work."""

    kind = "unavailable"
    status = 503


@contextmanager
def translated(field: str | None = None) -> Iterator[None]:
    """Turn the lower layers' errors into service errors (``field`` for a ValueError)."""
    try:
        yield
    except NotFoundError as error:
        raise NotFound(str(error)) from None
    except ConflictError as error:  # before ValueError: it is one
        raise Conflict(str(error)) from None
    except TemporalUnavailableError as error:
        raise Unavailable(str(error)) from None
    except ValueError as error:
        raise Invalid(str(error), field) from None
