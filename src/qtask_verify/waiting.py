"""Bounded waiting that remembers what it saw and explains a timeout in the deployment's words.

Polling starts fast (20 ms) and backs off to a few hundred milliseconds, so a healthy deployment
is never waited on for long and a broken one is not hammered. Waiting for a task gives up early
when the outcome is already clear: a task that is pending while nobody consumes the task queue
will not complete, so after a short grace the wait fails with that diagnosis instead of running
into its timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .clients import ApiClient, BrokerInspector
from .config import Environment
from .errors import DeploymentFault, Observation

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

FIRST_DELAY_S = 0.02
MAX_DELAY_S = 0.25
BACKOFF_FACTOR = 1.5
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
) -> PollResult[T]:
    """Probe until ``done(value)`` or ``timeout_s`` passed; the last value says how it ended."""
    timeline = timeline or Timeline(clock)
    next_delay = backoff_delays()
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
    """Remembers since when the task queue has had no consumer, across the waits of a run.

    The first wait that meets an unconsumed queue pays the grace period; later waits in the same
    run fail at once while the queue is still unconsumed. Seeing a consumer, or :meth:`reset`
    (after the suite itself restarted the workers), clears the memory.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._zero_since: float | None = None

    def observe(self, consumers: int) -> None:
        if consumers > 0:
            self._zero_since = None
        elif self._zero_since is None:
            self._zero_since = self._clock()

    def unconsumed_for(self) -> float:
        """Seconds the queue has been seen without consumers (0 if it has some)."""
        return 0.0 if self._zero_since is None else self._clock() - self._zero_since

    def reset(self) -> None:
        self._zero_since = None


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
) -> TaskOutcome:
    """Wait until the task is completed or failed; otherwise raise DeploymentFault saying why.

    ``read_consumers`` returns the live consumer count of the task queue, or None if the queue
    does not exist. The wait fails early when the task is pending and the queue has had no
    consumer for ``stalled_consumers_s``.
    """
    timeline = Timeline(clock)
    next_delay = backoff_delays()
    while True:
        state, consumers = await asyncio.gather(read_state(), read_consumers())
        if consumers is not None:
            watch.observe(consumers)
        timeline.note(_describe(state, consumers, queue_name))
        elapsed = timeline.elapsed()
        if state.status in TERMINAL_STATUSES:
            return TaskOutcome(state, elapsed, timeline.observations)
        stalled = state.status == "pending" and watch.unconsumed_for() >= stalled_consumers_s
        if stalled or elapsed >= timeout_s:
            raise _stuck(task_id, state, consumers, queue_name, elapsed, watch, timeline)
        await sleep(min(next_delay(), max(timeout_s - elapsed, 0.0)))


def _consumers_text(consumers: int | None, queue_name: str) -> str:
    if consumers is None:
        return f"queue {queue_name} does not exist"
    return f"{queue_name} has {consumers} consumer{'' if consumers == 1 else 's'}"


def _describe(state: TaskState, consumers: int | None, queue_name: str) -> str:
    status = "unknown to the API" if state.status is None else state.status
    return f"task {status}, {_consumers_text(consumers, queue_name)}"


def _stuck(
    task_id: str,
    state: TaskState,
    consumers: int | None,
    queue_name: str,
    elapsed: float,
    watch: ConsumerWatch,
    timeline: Timeline,
) -> DeploymentFault:
    """The diagnosis of a task that did not finish, from what was observed."""
    waited = f"{elapsed:.1f} s"
    if state.status is None:
        return DeploymentFault(
            "api",
            f"task {task_id} was accepted but the API does not know it after {waited}",
            timeline.observations,
        )
    if consumers is None:
        return DeploymentFault(
            "queue",
            f"task stayed {state.status} for {waited}: queue {queue_name} does not exist",
            timeline.observations,
        )
    if state.status == "pending" and consumers == 0:
        return DeploymentFault(
            "workers",
            f"task stayed pending: no worker is consuming {queue_name} "
            f"(0 consumers for {watch.unconsumed_for():.1f} s)",
            timeline.observations,
        )
    if state.status == "pending":
        return DeploymentFault(
            "queue",
            f"task stayed pending for {waited} while {_consumers_text(consumers, queue_name)}: "
            "its message did not reach a worker",
            timeline.observations,
        )
    if state.status == "processing":
        return DeploymentFault(
            "workers",
            f"task stayed processing for {waited}: the worker that took it crashed or hung "
            f"({_consumers_text(consumers, queue_name)})",
            timeline.observations,
        )
    return DeploymentFault(
        "api",
        f"task {task_id} has status {state.status!r}, which the contract does not know",
        timeline.observations,
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
) -> TaskOutcome:
    """Wait until the API reports the task completed or failed, watching the task queue.

    Raises DeploymentFault naming the reason when it does not finish (see
    :func:`wait_for_task_outcome`).
    """
    queue_name = environment.expectations.queue_name

    async def consumers() -> int | None:
        state = await broker.live_state(queue_name)
        return None if state is None else state.consumers

    return await wait_for_task_outcome(
        task_id,
        lambda: read_task_state(api, task_id),
        consumers,
        queue_name=queue_name,
        timeout_s=timeout_s,
        watch=watch,
        stalled_consumers_s=environment.thresholds.stalled_consumers_s,
    )
