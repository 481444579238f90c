"""Waiting for tasks to finish, and saying from what the deployment shows why one did not.

Waiting for a task gives up early when the outcome is already clear: a task that is pending
while nobody consumes the task queue will not complete, so once the queue has been seen
unconsumed for a short grace (counted from the preflight's observation on) the wait fails with
that diagnosis instead of running into its timeout. So does an accepted task the API keeps
answering 404 for, and one whose message the evidence shows dead-lettered or gone from the queue
(``evidence``). A diagnosis says what was seen, not what might have happened.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..clients import ApiClient, BrokerInspector, DatabaseInspector
from ..config import Environment
from ..deployment.ledger import ScenarioTasks
from ..deployment.probes import live_consumers, live_messages, quietly
from ..errors import Component, DeploymentFault, Observation, require
from ..waiting import Clock, Sleep, Timeline, backoff_delays, poll_until
from .consumers import ConsumerWatch
from .evidence import (
    UNKNOWN_TASK_GRACE_S,
    DeploymentSources,
    Finding,
    Overdue,
    QueueEvidence,
    Record,
    dead_letter_cause,
    plural,
    queue_evidence,
    statistics_lag_s,
    unknown_to_api,
)

# A task takes a healthy worker a few tens of milliseconds; polling it at most this far apart
# keeps the measured end-to-end time close to the real one (one GET per poll, cheap).
TASK_POLL_MAX_DELAY_S = 0.05
TERMINAL_STATUSES = frozenset({"completed", "failed"})
# Each completion is one transition each way: pending -> processing -> completed, once each.
COMPLETED_ONCE = ["pending", "processing", "completed"]


@dataclass(frozen=True)
class StoredTask:
    """Where the database's record of a task is, so that a diagnosis of what the API showed can
    compare it with what was stored."""

    task_id: str
    database_url: str


@dataclass(frozen=True)
class TaskState:
    """What the deployment says about a task right now (status None: it does not know it)."""

    status: str | None
    error: str | None = None
    detail: Any = None
    stored: StoredTask | None = None


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
    overdue: Overdue | None = None,
) -> TaskOutcome:
    """Wait until the task is completed or failed; otherwise raise DeploymentFault saying why.

    ``read_consumers`` returns the live consumer count of the task queue, or None if the queue
    does not exist. The wait fails early when the task is pending and the queue has had no
    consumer for ``stalled_consumers_s``, when the API has answered 404 for the accepted task for
    ``UNKNOWN_TASK_GRACE_S``, and when ``overdue`` (the evidence about an overdue task) is
    conclusive. ``read_unacknowledged`` (messages of the queue that consumers hold without having
    acknowledged them) is asked once, to explain a task that stays pending although the queue has
    consumers. A finished task is noted on the watch (see ``ConsumerWatch.finished_for``).
    """
    if overdue is not None:
        overdue.begin()
    try:
        timeline = Timeline(clock)
        next_delay = backoff_delays(limit=max_delay_s)
        processing_since: float | None = None
        unknown_since: float | None = None
        while True:
            state, consumers = await asyncio.gather(read_state(), watch.count(read_consumers))
            timeline.note(_describe(state, consumers, queue_name))
            elapsed = timeline.elapsed()
            if state.status in TERMINAL_STATUSES:
                watch.task_finished()
                return TaskOutcome(state, elapsed, timeline.observations)
            if state.status == "processing" and processing_since is None:
                processing_since = elapsed
            if state.status is not None:
                unknown_since = None
            elif unknown_since is None:
                unknown_since = elapsed
            finding = await _conclusive(task_id, state, elapsed, unknown_since, overdue)
            if finding is not None:
                raise DeploymentFault(finding.component, finding.diagnosis, timeline.observations)
            stalled = state.status == "pending" and watch.unconsumed_for() >= stalled_consumers_s
            if stalled or elapsed >= timeout_s:
                unacknowledged = None
                if state.status == "pending" and consumers and read_unacknowledged is not None:
                    unacknowledged = await read_unacknowledged()
                record = None
                if overdue is not None and state.status == "processing":
                    record = await overdue.record()
                stuck = Stuck(
                    task_id,
                    state,
                    consumers,
                    queue_name,
                    elapsed,
                    elapsed - (elapsed if processing_since is None else processing_since),
                    unacknowledged,
                    overdue,
                    record,
                )
                raise stuck.fault(watch, timeline)
            await sleep(min(next_delay(), max(timeout_s - elapsed, 0.0)))
    finally:
        if overdue is not None:
            overdue.end()


async def _conclusive(
    task_id: str,
    state: TaskState,
    elapsed: float,
    unknown_since: float | None,
    overdue: Overdue | None,
) -> Finding | None:
    """What ends the wait before its timeout, if the evidence already shows the outcome."""
    if unknown_since is not None and elapsed - unknown_since >= UNKNOWN_TASK_GRACE_S:
        record = None if overdue is None else await overdue.record()
        return unknown_to_api(task_id, elapsed - unknown_since, record)
    return None if overdue is None else await overdue.look(state.status, elapsed)


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
    overdue: Overdue | None = None  # the evidence gathered while the task was overdue
    record: Record | None = None  # the task as the database stores it (None: not read)

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
        live = None if self.overdue is None else self.overdue.live
        if status == "pending" and live is not None and live.ready > 0:
            return "workers", (
                f"task stayed pending for {waited} while {consumers} and "
                f"{plural(live.ready, 'message')} ready: no consumer takes them"
            )
        if status == "pending":
            return "queue", (
                f"task stayed pending for {waited} while {consumers}: no worker started it, and "
                "what could be seen does not tell whether its message did not reach a worker or "
                f"was lost on the way ({self._unseen()})"
            )
        if status == "processing":
            stored = "" if self.record is None else f"; {self.record.describe()}"
            return "workers", (
                f"task stayed processing for {waited}: the worker that took it crashed or hung, "
                "or runs it for longer than the limit; a worker took the task and did not "
                f"finish it (stuck in processing for {self.processing_for_s:.1f} s, "
                f"{consumers}){stored}"
            )
        return "api", (
            f'task {self.task_id} has status "{status}", which the contract does not know'
        )

    def _unseen(self) -> str:
        """Why the Management API's figures could not settle it."""
        if self.overdue is None:
            return "no evidence was gathered"
        if self.elapsed_s < self.overdue.statistics_lag_s:
            return (
                "the Management API's figures count only "
                f"{self.overdue.statistics_lag_s:.0f} s after the submission"
            )
        return "the Management API's figures could not be read"


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
    (a larger ``max_delay_s``), so the polling does not take the workers' CPU. The state
    returned knows where the task is stored, for diagnoses that compare it with the API's.
    """
    expected = environment.expectations
    queue_name = expected.queue_name

    async def consumers() -> int | None:
        state = await broker.live_state(queue_name)
        return None if state is None else state.consumers

    async def unacknowledged() -> int | None:
        queue = await broker.queue(queue_name)
        return None if queue is None else queue.messages_unacknowledged

    sources = DeploymentSources(task_id, broker, environment)
    outcome = await wait_for_task_outcome(
        task_id,
        lambda: read_task_state(api, task_id),
        consumers,
        queue_name=queue_name,
        timeout_s=timeout_s,
        watch=watch,
        stalled_consumers_s=environment.thresholds.stalled_consumers_s,
        read_unacknowledged=unacknowledged,
        max_delay_s=max_delay_s,
        overdue=Overdue(
            task_id,
            queue_name,
            expected.dead_letter_queue,
            sources,
            statistics_lag_s=statistics_lag_s(environment),
        ),
    )
    stored = StoredTask(task_id, environment.database_url)
    return replace(outcome, state=replace(outcome.state, stored=stored))


async def submit_concurrently(
    tasks: ScenarioTasks, circuit: str, shots: int, count: int
) -> list[str]:
    """Submit ``count`` copies at once; every one must be accepted. Returns the task ids."""
    submitted = await asyncio.gather(*(tasks.submit(circuit, shots) for _ in range(count)))
    return [task.task_id for task in submitted]


async def wait_for_all(
    task_ids: Sequence[str],
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    timeout_s: float,
    after: str,
    watch: ConsumerWatch | None = None,
) -> dict[str, TaskState]:
    """Wait until every task is completed or failed; otherwise say what became of them.

    With the run's consumer ``watch``, tasks left pending while nobody has consumed the queue for
    ``stalled_consumers_s`` end the wait at once (their messages wait for a worker).

    ``after`` ends the diagnosis, e.g. "after the broker was restarted". Every task waited on was
    accepted, so one that does not finish is a loss (``DeploymentFault.loss``): whatever the
    scenario's priority, the deployment must not be released. The cause is named from what the
    broker shows: where the messages are (waiting, held unacknowledged, dead-lettered), and how
    many were redelivered during the wait.
    """

    async def state_of(task_id: str) -> TaskState:
        state = await quietly(lambda: read_task_state(api, task_id))
        return TaskState("unreadable") if state is None else state

    async def states() -> dict[str, TaskState]:
        read = await asyncio.gather(*(state_of(task_id) for task_id in task_ids))
        return dict(zip(task_ids, read, strict=True))

    started_wall, started = time.time(), time.monotonic()
    queue_name = environment.expectations.queue_name

    async def consumers_now() -> int | None:
        state = await broker.live_state(queue_name)
        return None if state is None else state.consumers

    async def look() -> tuple[dict[str, TaskState], bool, QueueEvidence | None]:
        """The tasks' states; whether the wait may stop (they cannot finish: nobody consumes
        the queue, or its evidence shows that); that evidence."""
        now = await states()
        unfinished = {s.status for s in now.values()} - TERMINAL_STATUSES
        if unfinished != {"pending"}:
            return now, False, None
        if watch is not None:
            await watch.count(consumers_now)
            if watch.unconsumed_for() >= environment.thresholds.stalled_consumers_s:
                return now, True, None
        if time.monotonic() - started < statistics_lag_s(environment):
            return now, False, None
        seen = await _nowhere(broker, environment, started_wall)
        return now, seen is not None, seen

    result = await poll_until(
        look,
        lambda seen: seen[1] or all(s.status in TERMINAL_STATUSES for s in seen[0].values()),
        timeout_s,
    )
    final, _, seen = result.value
    if all(s.status in TERMINAL_STATUSES for s in final.values()):
        return final
    waiting = await live_messages(broker, queue_name)
    consumers = await live_consumers(broker, queue_name)
    if seen is None and result.elapsed_s >= statistics_lag_s(environment):
        seen = await queue_evidence(broker, environment, started_wall)
    stuck = Counter(s.status or "unknown to the API" for s in final.values())
    stuck.subtract({s: stuck[s] for s in TERMINAL_STATUSES})
    summary = ", ".join(f"{n} {status}" for status, n in sorted(stuck.items()) if n > 0)
    unfinished = sum(n for n in stuck.values() if n > 0)
    queue = f"{queue_name} has {waiting} message(s) waiting and {consumers} consumer(s)"
    if seen is not None:
        queue += f", {seen.unacknowledged} unacknowledged"
    component: Component = "workers"
    cause = "the workers did not finish them"
    lost = True
    if stuck["unknown to the API"]:
        component, cause = "api", "accepted tasks are unknown to the API: they were lost"
    elif stuck["pending"] and waiting == 0 and consumers > 0:
        component, cause = _pending_without_messages(queue_name, environment, seen)
    elif stuck["pending"] and consumers <= 0:
        # Their messages wait for a worker: not lost, and the missing workers are the cause.
        cause, lost = "no worker consumes the queue", waiting < unfinished
    elif stuck["processing"]:
        cause = "a worker took them and did not finish them"
        if seen is not None and seen.unacknowledged == 0 and waiting == 0:
            cause += f"; {queue_name} holds no message for them, so none is left to redeliver"
    raise DeploymentFault(
        component,
        f"{unfinished} of {len(task_ids)} accepted task(s) did not finish in "
        f"{result.elapsed_s:.0f} s {after} (limit {timeout_s:.0f} s; {summary}; {queue}): {cause}",
        loss=lost,
    )


def _pending_without_messages(
    queue_name: str, environment: Environment, seen: QueueEvidence | None
) -> tuple[Component, str]:
    """Why tasks stay pending while their queue has consumers and no message waits in it."""
    if seen is None:
        return "queue", (
            f"their messages do not wait in {queue_name}, and whether consumers hold them could "
            "not be seen (the Management API's figures were not read or do not count yet)"
        )
    if seen.dead_lettered:
        dead_letter_queue = environment.expectations.dead_letter_queue
        component, cause = dead_letter_cause(queue_name, seen.losses)
        return component, (
            f"the dead-letter queue {dead_letter_queue} gained "
            f"{plural(seen.dead_lettered, 'message')} during the wait: {cause}"
        )
    if seen.unacknowledged:
        return "workers", "consumers hold their messages unacknowledged and started none of them"
    return "queue", (
        f"no message for them is in {queue_name}, waiting or held unacknowledged, and the "
        "dead-letter queue gained none"
    )


async def _nowhere(
    broker: BrokerInspector, environment: Environment, started_wall: float
) -> QueueEvidence | None:
    """The task queue's evidence when it shows that pending tasks cannot finish: consumers wait
    with no message ready and, by figures that count, none held; or dead letters arrived."""
    queue_name = environment.expectations.queue_name
    live = await quietly(lambda: broker.live_state(queue_name))
    if live is None or live.messages or not live.consumers:
        return None
    seen = await queue_evidence(broker, environment, started_wall)
    if seen is None or (seen.unacknowledged and not seen.dead_lettered):
        return None
    return seen


async def require_completed_once(
    task_ids: Sequence[str], states: dict[str, TaskState], database: DatabaseInspector
) -> None:
    """Each task completed, with exactly one history row per transition (no duplicate run).

    A task run twice (more history rows than one run writes) or not finished at all is a loss
    (``DeploymentFault.loss``); one that failed with a reason is not, since its user is told.
    """
    problems: list[str] = []
    lost = False
    for task_id in task_ids:
        state = states.get(task_id)
        if state is None or state.status != "completed":
            status = state.status if state else "unknown"
            error = f": {state.error}" if state is not None and state.error else ""
            problems.append(f"task {task_id} is {status}{error}")
            lost = lost or status not in TERMINAL_STATUSES
            continue
        history = [row.status for row in await database.fetch_history(task_id)]
        if history != COMPLETED_ONCE:
            problems.append(f"task {task_id} has history {history}")
            lost = lost or len(history) > len(COMPLETED_ONCE)
    if problems:
        raise DeploymentFault(
            "workers",
            f"{len(problems)} of {len(task_ids)} task(s) not completed exactly once "
            f"(expected history {COMPLETED_ONCE}): " + "; ".join(problems[:3]),
            loss=lost,
        )


async def submit_copies(tasks: ScenarioTasks, circuit: str, shots: int, count: int) -> list[str]:
    """Submit ``count`` copies one after another; every one must be accepted."""
    return [(await tasks.submit(circuit, shots)).task_id for _ in range(count)]


def require_distinct_ids(task_ids: Sequence[str]) -> None:
    duplicates = len(task_ids) - len(set(task_ids))
    require(not duplicates, "api", f"{duplicates} task id(s) were handed out twice")


async def wait_until_running(task_id: str, api: ApiClient, timeout_s: float) -> None:
    """Wait until a worker has taken the task (it is processing), or say what it is instead."""
    started = await poll_until(
        lambda: read_task_state(api, task_id), lambda state: state.status != "pending", timeout_s
    )
    require(
        started.value.status == "processing",
        "workers",
        f"no worker started the task within {timeout_s:g} s (it is {started.value.status})",
    )


async def not_interrupted(task_id: str, database: DatabaseInspector) -> str | None:
    """Why killing the workers now tests nothing, if it does not: the task is no longer
    processing (this deployment ran the busy circuit too fast to interrupt it)."""
    row = await database.fetch_task(task_id)
    if row is None or row.current_status == "processing":
        return None
    return (
        f"not verified: the task was already {row.current_status} when the workers were "
        "killed (this deployment runs the busy circuit too fast to interrupt it)"
    )


async def require_new_task_completes(
    circuit: str,
    tasks: ScenarioTasks,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
) -> None:
    task = await tasks.submit(circuit, 1024)
    outcome = await wait_for_task(
        task.task_id, api, broker, environment, watch, environment.thresholds.processing_s
    )
    require(
        outcome.state.status == "completed",
        "workers",
        f"after the recovery a new task {outcome.state.status}",
    )
