"""What the client tells an observer about its traffic: requests, 429s, token requests.

The client reports facts with bounded labels (the endpoint *template*, never a URL with a
tenant id or a query; a status class; an error type); what to do with them (Prometheus
metrics, in the worker) is the observer's business, so this package stays free of any
metrics library. The default observer ignores everything; ``set_observer`` installs another
for the whole process.
"""

from __future__ import annotations

import re
from typing import Protocol

_TENANT_SEGMENT = re.compile(r"/tenant/[^/]+/")


class ClientObserver(Protocol):
    def request(self, endpoint: str, status: int | None, seconds: float) -> None:
        """A request finished: ``status`` None when no response came (timeout, reset)."""

    def throttled(self, endpoint: str, credential_id: int, retry_after: float) -> None:
        """A 429: ServiceTitan asked to wait ``retry_after`` seconds."""

    def token(self, outcome: str) -> None:
        """A token request: ``issued``, or the error type of its failure."""


class _Silent:
    def request(self, endpoint: str, status: int | None, seconds: float) -> None:
        pass

    def throttled(self, endpoint: str, credential_id: int, retry_after: float) -> None:
        pass

    def token(self, outcome: str) -> None:
        pass


_observer: ClientObserver = _Silent()


def observer() -> ClientObserver:
    return _observer


def set_observer(new: ClientObserver | None) -> None:
    """Install ``new`` for every client of the process (None: back to ignoring)."""
    global _observer
    _observer = new if new is not None else _Silent()


def endpoint_template(endpoint: str) -> str:
    """The endpoint with its tenant id as ``{tenant}``: one label value per route, not per tenant.

    ``GET /crm/v2/tenant/1001/export/customers`` → ``GET /crm/v2/tenant/{tenant}/export/customers``
    """
    return _TENANT_SEGMENT.sub("/tenant/{tenant}/", endpoint, count=1)


def report_request(
    endpoint: str,
    credential_id: int,
    status: int | None,
    seconds: float,
    retry_after: float | None,
) -> None:
    """Report one request of a credential; ``retry_after`` is set on a 429."""
    template = endpoint_template(endpoint)
    _observer.request(template, status, seconds)
    if retry_after is not None:
        _observer.throttled(template, credential_id, retry_after)
