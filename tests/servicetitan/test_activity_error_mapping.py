"""How the activities turn ServiceTitan errors into Temporal failures: retried or final."""

from __future__ import annotations

import pytest

from activities.errors import from_servicetitan
from contracts.sync import ErrorType
from servicetitan.errors import InvalidResponse, ServiceUnavailable


@pytest.mark.parametrize(
    "error",
    [
        InvalidResponse("response larger than 64 MiB", retryable=False),
        InvalidResponse("JSON nested too deeply", retryable=False),
    ],
)
def test_a_body_the_same_request_would_bring_back_fails_at_once(error: InvalidResponse) -> None:
    failure = from_servicetitan(error)
    assert failure.non_retryable
    assert failure.type == ErrorType.INVALID_RESPONSE


@pytest.mark.parametrize(
    "error", [InvalidResponse("body cut short"), ServiceUnavailable("503 from the server")]
)
def test_transient_server_trouble_is_retried(error: ServiceUnavailable) -> None:
    failure = from_servicetitan(error)
    assert not failure.non_retryable
    assert failure.type == ErrorType.SERVICE_UNAVAILABLE
    assert failure.next_retry_delay is not None
