"""What services need from the process: settings, database, secret box, Temporal.

Temporal is reached through a callable so a front end connects lazily (the CLI) or shares one
client (the API); any failure to reach it becomes ``Unavailable`` and reads that do not need
it keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.service import RPCError

from core.crypto import SecretBox
from core.logging import get_logger
from core.settings import Settings
from core.temporal import TemporalUnavailableError
from db.database import Database
from services.errors import Unavailable

log = get_logger(__name__)


@dataclass
class ServiceContext:
    settings: Settings
    database: Database
    box: SecretBox
    temporal: Callable[[], Awaitable[Client]]

    async def client(self) -> Client:
        """The Temporal client, or ``Unavailable`` when Temporal cannot be reached."""
        try:
            return await self.temporal()
        except Unavailable:
            raise
        except (TemporalUnavailableError, RPCError, OSError, RuntimeError) as error:
            # The transport's own text (addresses, library internals) stays in the log.
            log.warning("Temporal is not reachable", error=f"{type(error).__name__}: {error}")
            raise Unavailable("Temporal is not reachable; try again shortly") from None
