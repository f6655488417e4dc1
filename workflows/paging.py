"""How a stream is paged: batch sizes, how a stream's sync ends, feeds that never end.

Plain deterministic code the sync workflow uses; no Temporal calls, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.sync import PageRef

PAGES_PER_ACTIVITY = 4
"""Pages one fetch (and one apply) activity handles at most. Every activity costs workflow
tasks and Temporal server work; a few pages share it while progress still moves often."""
MAX_EMPTY_PAGES_IN_A_ROW = 50
"""Empty pages with ``hasMore`` true a stream may bring in a row before the sync fails: a
cursor that moves on without ever bringing a record is as stuck as one that stays put."""


@dataclass
class BatchPlan:
    """How many pages each fetch of a stream asks for, counted per stream and run.

    1, then 2, then full batches: a stream's first apply starts after one page instead of a
    whole batch. Never more than the run may still apply before its continue-as-new limit
    (once past it, a full batch is fetched and carried into the next run).
    """

    limit: int
    fetches: int = 0

    def next_size(self, applied: int) -> int:
        """The size of the fetch about to start (each call is one fetch)."""
        ramp: int = 2**self.fetches
        size = min(PAGES_PER_ACTIVITY, ramp, max(1, self.limit))
        self.fetches += 1
        room = self.limit - applied
        return min(size, room) if room > 0 else size


@dataclass(frozen=True)
class StreamOutcome:
    """How a stream's sync ended: done (``carry`` None) or due to continue-as-new."""

    pages_this_run: int
    carry: list[PageRef] | None = None
    """Pages fetched and staged already, for the next run to apply first."""


class CursorWatch:
    """The positions one stream fetched from in this run, to stop a feed that never ends.

    ``see`` every page in the order the workflow takes them. Workflow memory only (it issues
    no command, so recorded histories replay as before), bounded by the pages one run reads:
    a continue-as-new starts with a new watch, so a cycle longer than a run's pages (500 by
    default), or an empty streak that each continue-as-new cuts short, is not noticed.
    """

    def __init__(self) -> None:
        self.fetched_from: dict[str | None, None] = {}
        """Each ``cursor_in`` of this run, in order (a dict: ordered, and quick to look up)."""
        self._last_out: str | None = None
        self._empty_in_a_row = 0

    def see(self, page: PageRef) -> str | None:
        """Why the stream cannot go on after ``page`` (a sentence), or None."""
        position = page.cursor_in
        if position != self._last_out and position in self.fetched_from:
            # The workflow went back on purpose (a lost staged page is fetched again from its
            # cursor_in): the positions from there on come again and are no cycle.
            chain = list(self.fetched_from)
            self.fetched_from = dict.fromkeys(chain[: chain.index(position)])
            self._empty_in_a_row = 0
        self.fetched_from[position] = None
        self._last_out = page.cursor_out
        if not page.has_more:
            return None
        if page.cursor_out == position:
            return (
                "ServiceTitan returned the same continueFrom it was given with hasMore=true; "
                "stopping instead of looping"
            )
        if page.cursor_out in self.fetched_from:
            chain = list(self.fetched_from)
            pages = len(chain) - chain.index(page.cursor_out)
            return (
                f"ServiceTitan's continueFrom led back to a position this sync already read "
                f"{pages} pages before, with hasMore=true; stopping instead of going round"
            )
        self._empty_in_a_row = self._empty_in_a_row + 1 if page.record_count == 0 else 0
        if self._empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW:
            return (
                f"ServiceTitan sent {self._empty_in_a_row} empty pages in a row with "
                "hasMore=true: the cursor moves on but no record arrives; stopping instead "
                "of paging for ever"
            )
        return None
