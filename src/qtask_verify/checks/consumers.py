"""What the run knows about the task queue's consumers, shared by every wait of the run."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from ..waiting import Clock

# Concurrent waits share one count of the queue's consumers if it is at most this old.
CONSUMER_COUNT_MAX_AGE_S = 0.1


class ConsumerWatch:
    """What the run knows about the task queue's consumers, across the waits of a run.

    It remembers since when the queue has had no consumer: the first wait that meets an
    unconsumed queue pays what is left of the grace period (counted from the first time the
    absence was seen, the preflight's count included), later waits fail at once while the queue
    stays unconsumed. Seeing a consumer, or :meth:`reset`, clears the memory.

    It also remembers since when the run has seen a task finished: from then on a consumer had
    a message to acknowledge, which the broker's lagging counts may show a while later.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._zero_since: float | None = None
        self._first_finish: float | None = None
        self._count: asyncio.Future[int | None] | None = None
        self._counted_at = -math.inf

    def observe(self, consumers: int, at: float | None = None) -> None:
        """Record a consumer count seen at ``at`` (the watch's clock; default: now)."""
        if consumers > 0:
            self._zero_since = None
        elif self._zero_since is None:
            self._zero_since = self._clock() if at is None else at

    def unconsumed_for(self) -> float:
        """Seconds the queue has been seen without consumers (0 if it has some)."""
        return 0.0 if self._zero_since is None else max(self._clock() - self._zero_since, 0.0)

    def reset(self) -> None:
        self._zero_since = None
        self._count = None

    async def count(self, probe: Callable[[], Awaitable[int | None]]) -> int | None:
        """The queue's consumers from ``probe``, shared by concurrent waits, and observed.

        A count at most ``CONSUMER_COUNT_MAX_AGE_S`` old (or one under way) is reused, so ten
        waits polling together ask the broker once.
        """
        fresh = self._clock() - self._counted_at <= CONSUMER_COUNT_MAX_AGE_S
        if self._count is None or (self._count.done() and not fresh):
            self._count = asyncio.ensure_future(probe())
            self._count.add_done_callback(self._counted)
        count = self._count
        try:
            consumers = await asyncio.shield(count)
        except BaseException:
            if self._count is count:
                self._count = None
            raise
        if consumers is not None:
            self.observe(consumers)
        return consumers

    def _counted(self, _: asyncio.Future[int | None]) -> None:
        self._counted_at = self._clock()

    def task_finished(self) -> None:
        """A task of the run was seen completed or failed."""
        if self._first_finish is None:
            self._first_finish = self._clock()

    def finished_for(self) -> float | None:
        """Seconds since the run first saw a task finished (None: it has not)."""
        return None if self._first_finish is None else self._clock() - self._first_finish
