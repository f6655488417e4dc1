"""Time as the sandbox sees it: real time plus an offset tests can advance.

Token expiry and rate-limit refill read this clock, so a test can jump 15 minutes ahead
(``Sandbox.advance_time(900)``) instead of sleeping through a token's life.
"""

from __future__ import annotations

import time


class Clock:
    """Wall and monotonic time, both shifted by ``offset`` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch (for token ``iat``/``exp``)."""
        return time.time() + self.offset

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (for rate limits and forced-429 windows)."""
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.offset += seconds
