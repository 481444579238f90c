"""What the deployment shows about a task that does not finish, gathered before a cause is named.

A wait looks here only once its task is overdue (pending for ``EVIDENCE_AFTER_S``, while a
healthy worker takes a task within milliseconds), so a healthy run pays nothing. Three sources:

- the broker's live counts (passive declares, exact at once): the task queue's ready messages
  and consumers, the dead-letter queue's depth;
- the Management API's figures: unacknowledged messages, the task queue's counts of messages
  published into it and acknowledged from it (read when the wait begins and again at the end),
  and samples of the dead-letter queue's length. They lag: on the local stack, which refreshes
  its statistics every second, a message held unacknowledged showed in them 1.3 to 4.9 s after
  it was delivered. So a figure is evidence of the state after a moment only if read
  ``STATISTICS_LAG_INTERVALS`` of the profile's statistics intervals after it, and a count read
  within milliseconds of a publish does not include it yet. A sample's timestamp says little:
  the Management API files a late report back over the seconds before it, so the samples only
  serve to see the dead-letter queue grow, never to acquit;
- the database: the task's row and history, read once, for the diagnosis.

The wait ends early when the evidence is conclusive: the dead-letter queue grew while the task
stayed pending with no message of the task queue ready (dead-lettered), or the task stays
pending while the queue has consumers and, by figures read late enough to count, neither ready
nor unacknowledged messages (its message is nowhere).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..clients import BrokerInspector, DatabaseInspector, TaskRow
from ..clients.broker import QueueSeries
from ..config import Environment
from ..deployment.probes import quietly
from ..errors import Component
from ..waiting import Clock
from .queue import losses_by_settings
from .views import clock_time

# A task pending this long is overdue: a healthy worker claims it within milliseconds.
EVIDENCE_AFTER_S = 1.0
# Once overdue, the live counts are read at most this often.
EVIDENCE_EVERY_S = 1.0
# The Management API's figures show the state after a moment only when read this many of the
# broker's statistics intervals after it (measured up to 4.9 s where the interval is 1 s).
STATISTICS_LAG_INTERVALS = 6
# The suite's, the database's and the broker's clocks may differ by this much.
CLOCK_MARGIN_S = 1.0
# Samples are asked for over the time of interest and this much more.
SAMPLE_WINDOW_MARGIN_S = 10.0
# An accepted task the API answers 404 for this long is unknown to it, not late.
UNKNOWN_TASK_GRACE_S = 2.0


def statistics_lag_s(environment: Environment) -> float:
    """How long after a moment the Management API's figures show the state after it."""
    return STATISTICS_LAG_INTERVALS * environment.thresholds.statistics_interval_s


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Live:
    """The task queue's ready messages and consumers, and the dead-letter queue's depth."""

    ready: int
    consumers: int
    dead_letters: int | None  # None: the dead-letter queue does not exist


@dataclass(frozen=True)
class Record:
    """The task as the database stores it (``row`` None: there is no row)."""

    row: TaskRow | None
    history: Sequence[str] = ()

    def describe(self) -> str:
        if self.row is None:
            return "the database has no row for it"
        submitted = self.row.submitted_at
        when = f", submitted at {clock_time(submitted)}" if submitted is not None else ""
        history = ", ".join(self.history) or "empty"
        return f"the database holds it {self.row.current_status}{when}, history {history}"


class Sources(Protocol):
    """Where the evidence about one task comes from; a probe answers None when it cannot see."""

    async def live(self) -> Live | None: ...

    async def series(self, queue: str, window_s: float) -> QueueSeries | None: ...

    async def counters(self) -> dict[str, int] | None:
        """The task queue's cumulative counts ("publish", "ack"; see BrokerInspector)."""
        ...

    async def record(self) -> Record | None: ...

    async def losses(self) -> list[str] | None:
        """What in the task queue's settings can expire or drop a message."""
        ...

    async def counts_messages(self) -> bool:
        """Whether the broker keeps message counters per queue at all."""
        ...


class DeploymentSources:
    """The evidence about one task, read from the deployment itself."""

    def __init__(self, task_id: str, broker: BrokerInspector, environment: Environment) -> None:
        self._task_id = task_id
        self._broker = broker
        self._environment = environment
        self._queue = environment.expectations.queue_name
        self._dead_letter_queue = environment.expectations.dead_letter_queue

    async def live(self) -> Live | None:
        queue, dead_letters = await asyncio.gather(
            quietly(lambda: self._broker.live_state(self._queue)),
            quietly(lambda: self._broker.live_state(self._dead_letter_queue)),
        )
        if queue is None:
            return None
        depth = None if dead_letters is None else dead_letters.messages
        return Live(queue.messages, queue.consumers, depth)

    async def series(self, queue: str, window_s: float) -> QueueSeries | None:
        return await quietly(lambda: self._broker.queue_series(queue, window_s))

    async def counters(self) -> dict[str, int] | None:
        return await quietly(lambda: self._broker.queue_counters(self._queue))

    async def record(self) -> Record | None:
        async def read() -> Record:
            database = await DatabaseInspector.connect(self._environment.database_url)
            try:
                row = await database.fetch_task(self._task_id)
                history = [] if row is None else await database.fetch_history(self._task_id)
            finally:
                await database.close()
            return Record(row, [entry.status for entry in history])

        return await quietly(read)

    async def losses(self) -> list[str] | None:
        info = await quietly(lambda: self._broker.queue(self._queue))
        return None if info is None else losses_by_settings(info)

    async def counts_messages(self) -> bool:
        overview = await quietly(self._broker.overview)
        return overview is not None and overview.get("rates_mode", "none") != "none"


@dataclass(frozen=True)
class Finding:
    """A conclusive diagnosis."""

    component: Component
    diagnosis: str


class Overdue:
    """The evidence about one task a wait is waiting for: gathered once the task is overdue,
    and conclusive (:meth:`look` returns a Finding) when it leaves no doubt."""

    def __init__(
        self,
        task_id: str,
        queue: str,
        dead_letter_queue: str,
        sources: Sources,
        *,
        statistics_lag_s: float,
        wall_clock: Clock = time.time,
    ) -> None:
        self.task_id = task_id
        self.statistics_lag_s = statistics_lag_s
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue
        self._sources = sources
        self._wall_clock = wall_clock
        self._started_wall: float | None = None
        self._next_look_s = EVIDENCE_AFTER_S
        self._dead_letters_before: int | None = None
        self._began: asyncio.Future[tuple[dict[str, int] | None, Live | None]] | None = None
        self.live: Live | None = None  # the last live counts seen

    def begin(self) -> None:
        """Read the task queue's counts and the dead-letter queue's depth as the wait begins
        (in the background): the counts do not include the task's publish yet, so the counts at
        the end say whether it came."""
        self._began = asyncio.ensure_future(
            asyncio.gather(self._sources.counters(), self._sources.live())
        )

    def end(self) -> None:
        if self._began is not None:
            self._began.cancel()

    async def record(self) -> Record | None:
        return await self._sources.record()

    async def look(self, status: str | None, elapsed: float) -> Finding | None:
        """Gather what is due for a task seen ``status`` ``elapsed`` seconds into the wait (which
        began after the task was accepted); a Finding when the evidence is conclusive."""
        if status != "pending" or elapsed < self._next_look_s:
            return None
        self._next_look_s = elapsed + EVIDENCE_EVERY_S
        live = self.live = await self._sources.live()
        if live is None or live.consumers <= 0 or live.ready > 0:
            return None  # a message waits, or nobody consumes (the consumer watch's case)
        gained = await self._dead_letters_gained(live, elapsed)
        counts = elapsed >= self.statistics_lag_s
        if not gained and not counts:
            return None
        series = await self._sources.series(self.queue, elapsed + SAMPLE_WINDOW_MARGIN_S)
        if series is not None and series.unacknowledged > 0:
            # A consumer may hold the task's message. (Dead letters are evidence enough without
            # current figures, but never against figures that show a message held.)
            return None
        if gained:
            return await self._dead_lettered(gained, live, series, elapsed)
        return None if series is None else await self._nowhere(live, elapsed)

    async def _dead_letters_gained(self, live: Live, elapsed: float) -> int:
        """Messages the dead-letter queue holds now beyond its depth before the task's message
        could be dead-lettered: the lower of its depth as the wait began (which a message
        dead-lettered within milliseconds of the acceptance is already in) and its last sample
        filed before the wait (which the Management API may have refreshed since)."""
        if self._started_wall is None:
            self._started_wall = self._wall_clock() - elapsed
            window = elapsed + SAMPLE_WINDOW_MARGIN_S
            series = await self._sources.series(self.dead_letter_queue, window)
            sampled = (
                None if series is None else series.length_at(self._started_wall - CLOCK_MARGIN_S)
            )
            began = None if self._began is None else (await self._began)[1]
            depths = [sampled, None if began is None else began.dead_letters]
            self._dead_letters_before = min((d for d in depths if d is not None), default=None)
        if live.dead_letters is None or self._dead_letters_before is None:
            return 0
        return max(live.dead_letters - self._dead_letters_before, 0)

    def _disagreement(self, record: Record | None, elapsed: float) -> Finding | None:
        """The database holds the task in another status than the API's pending."""
        if record is None or record.row is None or record.row.current_status == "pending":
            return None
        return Finding(
            "api",
            f"the API has answered pending for task {self.task_id} for {elapsed:.1f} s, but "
            f"{record.describe()}",
        )

    async def _dead_lettered(
        self, gained: int, live: Live, series: QueueSeries | None, elapsed: float
    ) -> Finding:
        record, losses = await asyncio.gather(self._sources.record(), self._sources.losses())
        disagreement = self._disagreement(record, elapsed)
        if disagreement is not None:
            return disagreement
        unacknowledged = "" if series is None else f", {series.unacknowledged} unacknowledged"
        seen = (
            f"the dead-letter queue {self.dead_letter_queue} gained "
            f"{plural(gained, 'message')} while task {self.task_id} stayed pending for "
            f"{elapsed:.1f} s, with {self.queue} at {live.ready} ready{unacknowledged} and "
            f"{plural(live.consumers, 'consumer')}"
        )
        stored = "" if record is None else f" ({record.describe()})"
        component, cause = dead_letter_cause(self.queue, losses)
        return Finding(component, f"{seen}: {cause}{stored}")

    async def _nowhere(self, live: Live, elapsed: float) -> Finding:
        record = await self._sources.record()
        disagreement = self._disagreement(record, elapsed)
        if disagreement is not None:
            return disagreement
        seen = (
            f"task {self.task_id} stayed pending for {elapsed:.1f} s while {self.queue} had "
            f"{plural(live.consumers, 'consumer')} and neither ready nor unacknowledged "
            f"messages (the Management API's figures read {elapsed:.1f} s after the wait "
            "began)"
        )
        published, acknowledged = await self._counted_since_begin()
        stored = "" if record is None else f"; {record.describe()}"
        if published == 0:
            return Finding(
                "api",
                f"{seen}, and the broker counted no message published to it since the wait "
                f"began: the API did not queue its message{stored}",
            )
        if published is None:
            return Finding("queue", f"{seen}: its message is not in the queue{stored}")
        counted = (
            f"the broker counted {plural(published, 'message')} published to it and "
            f"{acknowledged if acknowledged is not None else 'an unknown number'} acknowledged "
            "since the wait began"
        )
        if acknowledged is not None and acknowledged >= published:
            return Finding(
                "workers",
                f"{seen}, and {counted}: a consumer acknowledged its message without starting "
                f"the task{stored}",
            )
        return Finding("queue", f"{seen}: its message is not in the queue ({counted}){stored}")

    async def _counted_since_begin(self) -> tuple[int | None, int | None]:
        """Messages the broker counted published into the task queue and acknowledged from it
        between the wait's beginning and now (None: unknown)."""
        if self._began is None:
            return None, None
        before, now = (await self._began)[0], await self._sources.counters()
        if before is None or now is None:
            return None, None
        kept: bool | None = None
        growth: list[int | None] = []
        for key in ("publish", "ack"):
            if key not in before or key not in now:
                kept = await self._sources.counts_messages() if kept is None else kept
                if not kept:
                    growth.append(None)
                    continue
            grown = now.get(key, 0) - before.get(key, 0)
            growth.append(grown if grown >= 0 else None)  # below 0: the counts were reset
        return growth[0], growth[1]


def unknown_to_api(task_id: str, unknown_for_s: float, record: Record | None) -> Finding:
    """An accepted task the API answers 404 for: the API's fault whether or not it was stored."""
    stored = "" if record is None else f"; {record.describe()}"
    return Finding(
        "api",
        f"task {task_id} was accepted, but the API has answered 404 for it for "
        f"{unknown_for_s:.1f} s{stored}",
    )


@dataclass(frozen=True)
class QueueEvidence:
    """What the broker shows of the task queue over a wait that lasted long enough for the
    Management API's figures to count (each None when it could not be seen)."""

    unacknowledged: int
    dead_lettered: int | None  # messages the dead-letter queue gained during the wait
    losses: list[str] | None  # what in the task queue's settings expires or drops messages


async def queue_evidence(
    broker: BrokerInspector, environment: Environment, started_wall: float
) -> QueueEvidence | None:
    """The task queue's evidence since ``started_wall`` (the suite's clock), or None if the
    Management API cannot be read."""
    expected = environment.expectations
    window = time.time() - started_wall + SAMPLE_WINDOW_MARGIN_S
    before = started_wall - CLOCK_MARGIN_S
    queue, dead_letters, depth, info = await asyncio.gather(
        quietly(lambda: broker.queue_series(expected.queue_name, window)),
        quietly(lambda: broker.queue_series(expected.dead_letter_queue, window)),
        quietly(lambda: broker.live_state(expected.dead_letter_queue)),
        quietly(lambda: broker.queue(expected.queue_name)),
    )
    if queue is None:
        return None
    return QueueEvidence(
        queue.unacknowledged,
        _growth(
            None if dead_letters is None else dead_letters.length_at(before),
            None if depth is None else depth.messages,
        ),
        None if info is None else losses_by_settings(info),
    )


def _growth(before: int | None, now: int | None) -> int | None:
    return None if before is None or now is None else max(now - before, 0)


def dead_letter_cause(queue: str, losses: list[str] | None) -> tuple[Component, str]:
    """Who put a task queue's message into the dead-letter queue, by what its settings allow."""
    if losses:
        return "queue", f"{queue} has settings that expire or drop messages: {'; '.join(losses)}"
    if losses is None:
        return "workers", (
            "a consumer rejected it without requeueing, or a setting of the queue expired or "
            "dropped it (its settings could not be read)"
        )
    return "workers", (
        f"no setting of {queue} expires or drops messages, so a consumer rejected it without "
        "requeueing"
    )
