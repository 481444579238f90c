"""Bounded waiting that remembers what it saw and explains a timeout in the deployment's words.

Polling starts fast (20 ms) and backs off to a few hundred milliseconds, so a healthy deployment
is never waited on for long and a broken one is not hammered. Waiting for a task gives up early
when the outcome is already clear: a task that is pending while nobody consumes the task queue
will not complete, so once the queue has been seen unconsumed for a short grace (counted from
the preflight's observation on) the wait fails with that diagnosis instead of running into its
timeout.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .clients import ApiClient, BrokerInspector
from .config import Environment
from .errors import Component, DeploymentFault, Observation

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

FIRST_DELAY_S = 0.02
MAX_DELAY_S = 0.25
BACKOFF_FACTOR = 1.5
# A task takes a healthy worker a few tens of milliseconds; polling it at most this far apart
# keeps the measured end-to-end time close to the real one (one GET per poll, cheap).
TASK_POLL_MAX_DELAY_S = 0.05
# Concurrent waits share one count of the queue's consumers if it is at most this old.
CONSUMER_COUNT_MAX_AGE_S = 0.1
TERMINAL_STATUSES = frozenset({"completed", "failed"})


class Timeline:
    """Observations with their time since the start; a repeated observation is kept once."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self.observations: list[Observation] = []

    def elapsed(self) -> float:
        return self._clock() - self._start

    def note(self, text: str) -> None:
        if not self.observations or self.observations[-1].observation != text:
            self.observations.append(Observation(round(self.elapsed(), 3), text))


def backoff_delays(
    first: float = FIRST_DELAY_S, limit: float = MAX_DELAY_S, factor: float = BACKOFF_FACTOR
) -> Callable[[], float]:
    """Return a function giving the next delay: first, first*factor, ... capped at ``limit``."""
    delay = first / factor

    def next_delay() -> float:
        nonlocal delay
        delay = min(delay * factor, limit)
        return delay

    return next_delay


@dataclass(frozen=True)
class PollResult(Generic[T]):
    value: T
    satisfied: bool
    elapsed_s: float


async def poll_until(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout_s: float,
    *,
    describe: Callable[[T], str] | None = None,
    timeline: Timeline | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    max_delay_s: float = MAX_DELAY_S,
) -> PollResult[T]:
    """Probe until ``done(value)`` or ``timeout_s`` passed; the last value says how it ended.

    ``max_delay_s`` caps the backoff, for probes that are cheap and whose answer changes at a
    known pace (e.g. statistics refreshed every second).
    """
    timeline = timeline or Timeline(clock)
    next_delay = backoff_delays(limit=max_delay_s)
    start = clock()
    while True:
        value = await probe()
        if describe is not None:
            timeline.note(describe(value))
        elapsed = clock() - start
        if done(value):
            return PollResult(value, True, elapsed)
        if elapsed >= timeout_s:
            return PollResult(value, False, elapsed)
        await sleep(min(next_delay(), max(timeout_s - elapsed, 0.0)))


class ConsumerWatch:
    """What the run knows about the task queue's consumers, across the waits of a run.

    It remembers since when the queue has had no consumer: the first wait that meets an
    unconsumed queue pays what is left of the grace period (counted from the first time the
    absence was seen, the preflight's count included), later waits fail at once while the queue
    stays unconsumed. Seeing a consumer, or :meth:`reset`, clears the memory.

    It also knows when the suite itself took the workers away: a scenario that paused them
    hands over their return (:meth:`expect_workers_back`) instead of waiting for it, and every
    wait first awaits :meth:`settled`, so the return overlaps whatever does not need workers.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._zero_since: float | None = None
        self._comeback: asyncio.Future[None] | None = None
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

    def expect_workers_back(self, comeback: Awaitable[None]) -> None:
        """The suite has started the workers it paused; ``comeback`` ends once they consume."""
        self._comeback = asyncio.ensure_future(comeback)

    @property
    def restoring(self) -> bool:
        """Whether workers the suite paused are on their way back and not yet awaited."""
        return self._comeback is not None

    async def settled(self) -> None:
        """Wait until workers the suite paused consume again (at once if none are away).

        Raises what bringing them back raised (a DeploymentFault naming the workers).
        """
        comeback, self._comeback = self._comeback, None
        if comeback is None:
            return
        try:
            await comeback
        finally:
            self.reset()


@dataclass(frozen=True)
class TaskState:
    """What the deployment says about a task right now (status None: it does not know it)."""

    status: str | None
    error: str | None = None
    detail: Any = None


@dataclass(frozen=True)
class TaskOutcome:
    state: TaskState
    elapsed_s: float
    timeline: list[Observation] = field(default_factory=list)


async def wait_for_task_outcome(
    task_id: str,
    read_state: Callable[[], Awaitable[TaskState]],
    read_consumers: Callable[[], Awaitable[int | None]],
    *,
    queue_name: str,
    timeout_s: float,
    watch: ConsumerWatch,
    stalled_consumers_s: float,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    read_unacknowledged: Callable[[], Awaitable[int | None]] | None = None,
    max_delay_s: float = TASK_POLL_MAX_DELAY_S,
) -> TaskOutcome:
    """Wait until the task is completed or failed; otherwise raise DeploymentFault saying why.

    ``read_consumers`` returns the live consumer count of the task queue, or None if the queue
    does not exist. The wait fails early when the task is pending and the queue has had no
    consumer for ``stalled_consumers_s``. ``read_unacknowledged`` (messages of the queue that
    consumers hold without having acknowledged them) is asked once, to explain a task that stays
    pending although the queue has consumers. Workers the suite paused are awaited first.
    """
    await watch.settled()
    timeline = Timeline(clock)
    next_delay = backoff_delays(limit=max_delay_s)
    processing_since: float | None = None
    while True:
        state, consumers = await asyncio.gather(read_state(), watch.count(read_consumers))
        timeline.note(_describe(state, consumers, queue_name))
        elapsed = timeline.elapsed()
        if state.status in TERMINAL_STATUSES:
            return TaskOutcome(state, elapsed, timeline.observations)
        if state.status == "processing" and processing_since is None:
            processing_since = elapsed
        stalled = state.status == "pending" and watch.unconsumed_for() >= stalled_consumers_s
        if stalled or elapsed >= timeout_s:
            unacknowledged = None
            if state.status == "pending" and consumers and read_unacknowledged is not None:
                unacknowledged = await read_unacknowledged()
            stuck = Stuck(
                task_id,
                state,
                consumers,
                queue_name,
                elapsed,
                elapsed - (elapsed if processing_since is None else processing_since),
                unacknowledged,
            )
            raise stuck.fault(watch, timeline)
        await sleep(min(next_delay(), max(timeout_s - elapsed, 0.0)))


def _consumers_text(consumers: int | None, queue_name: str) -> str:
    if consumers is None:
        return f"queue {queue_name} does not exist"
    return f"{queue_name} has {consumers} consumer{'' if consumers == 1 else 's'}"


def _describe(state: TaskState, consumers: int | None, queue_name: str) -> str:
    status = "unknown to the API" if state.status is None else state.status
    return f"task {status}, {_consumers_text(consumers, queue_name)}"


@dataclass(frozen=True)
class Stuck:
    """What was seen of a task that did not finish in time."""

    task_id: str
    state: TaskState
    consumers: int | None
    queue_name: str
    elapsed_s: float
    processing_for_s: float  # since the task was first seen processing (0 if never)
    unacknowledged: int | None  # messages consumers hold unacknowledged (None: not asked)

    def fault(self, watch: ConsumerWatch, timeline: Timeline) -> DeploymentFault:
        """The diagnosis, in the deployment's words."""
        component, diagnosis = self._diagnosis(watch)
        return DeploymentFault(component, diagnosis, timeline.observations)

    def _diagnosis(self, watch: ConsumerWatch) -> tuple[Component, str]:
        waited = f"{self.elapsed_s:.1f} s"
        status, queue = self.state.status, self.queue_name
        consumers = _consumers_text(self.consumers, queue)
        if status is None:
            return "api", (
                f"task {self.task_id} was accepted but the API does not know it after {waited}"
            )
        if self.consumers is None:
            return "queue", f"task stayed {status} for {waited}: queue {queue} does not exist"
        if status == "pending" and self.consumers == 0:
            return "workers", (
                f"task stayed pending: no worker is consuming {queue} "
                f"(0 consumers for {watch.unconsumed_for():.1f} s)"
            )
        if status == "pending" and self.unacknowledged:
            return "workers", (
                f"task stayed pending for {waited} while {consumers} holding "
                f"{self.unacknowledged} unacknowledged message(s): a worker took a task and "
                "did not finish it, and the others wait behind it"
            )
        if status == "pending":
            return "queue", (
                f"task stayed pending for {waited} while {consumers}: its message did not "
                "reach a worker"
            )
        if status == "processing":
            return "workers", (
                f"task stayed processing for {waited}: the worker that took it crashed or hung; "
                f"a worker took the task and did not finish it (stuck in processing for "
                f"{self.processing_for_s:.1f} s, {consumers})"
            )
        return "api", (
            f"task {self.task_id} has status {status!r}, which the contract does not know"
        )


async def read_task_state(api: ApiClient, task_id: str) -> TaskState:
    """The task as the API reports it (status None when the API answers 404)."""
    response = await api.get_task(task_id)
    if response.status_code == 404:
        return TaskState(None)
    if response.status_code != 200:
        raise DeploymentFault(
            "api", f"GET of task {task_id} answered {response.status_code}: {response.text[:200]}"
        )
    error = next((response.field(k) for k in ("error", "error_message") if response.field(k)), None)
    return TaskState(response.field("status"), error, response.body)


async def wait_for_task(
    task_id: str,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
    timeout_s: float,
    *,
    max_delay_s: float = TASK_POLL_MAX_DELAY_S,
) -> TaskOutcome:
    """Wait until the API reports the task completed or failed, watching the task queue.

    Raises DeploymentFault naming the reason when it does not finish (see
    :func:`wait_for_task_outcome`). Many tasks waited on at once should be polled less often
    (a larger ``max_delay_s``), so the polling does not take the workers' CPU.
    """
    queue_name = environment.expectations.queue_name

    async def consumers() -> int | None:
        state = await broker.live_state(queue_name)
        return None if state is None else state.consumers

    async def unacknowledged() -> int | None:
        queue = await broker.queue(queue_name)
        return None if queue is None else queue.messages_unacknowledged

    return await wait_for_task_outcome(
        task_id,
        lambda: read_task_state(api, task_id),
        consumers,
        queue_name=queue_name,
        timeout_s=timeout_s,
        watch=watch,
        stalled_consumers_s=environment.thresholds.stalled_consumers_s,
        read_unacknowledged=unacknowledged,
        max_delay_s=max_delay_s,
    )
