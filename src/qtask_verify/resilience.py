"""Resilience: break part of a deployment on purpose, prove nothing is lost, always restore it.

The P3 scenarios stop, kill and restart components through the environment's deployment
controller. Everything that changes the deployment goes through :class:`Intervention`, whose
``restore`` starts the component again and waits until the deployment is whole (the API healthy,
workers consuming): the steps call it explicitly, and their teardown calls it again (it is
idempotent) when a scenario fails half-way, so a failed scenario never leaves a component down.

Waiting here tolerates the outage itself: a probe that cannot reach a component counts as "not
yet", and only the deadline turns that into a diagnosis in the deployment's words.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiormq
import asyncpg

from .clients import ApiClient, ApiResponse, BrokerInspector, DatabaseInspector
from .config import Environment
from .controller import Action, DeploymentController, DeploymentPart
from .errors import Component, DeploymentFault
from .ledger import ScenarioTasks
from .waiting import TERMINAL_STATUSES, ConsumerWatch, TaskState, poll_until, read_task_state

T = TypeVar("T")

# How long a restarted component may take until the deployment is whole again. A RabbitMQ node
# boots in 5-15 s on a loaded machine, and the API and workers reconnect about a second later.
RECOVERY_S = 60.0
# How long an outage may take to show in /health (the contract: within 2 s of asking).
OUTAGE_VISIBLE_S = 10.0
# Answers that refuse a submission cleanly during a dependency outage.
OUTAGE_STATUSES = frozenset({502, 503, 504})
# Each completion below is one transition: pending -> processing -> completed, once each.
COMPLETED_ONCE = ["pending", "processing", "completed"]

# What a probe meets mid-outage. aio-pika's robust connection raises a bare RuntimeError
# ("Connection was not opened") while it reconnects after a broker restart.
_UNREACHABLE = (
    DeploymentFault,
    RuntimeError,
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    aiormq.exceptions.AMQPError,
)


async def quietly(probe: Callable[[], Awaitable[T]], timeout_s: float = 5.0) -> T | None:
    """The probe's value, or None while the component it asks is unreachable (mid-outage)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await probe()
    except _UNREACHABLE:
        return None


def busy_circuit(qubits: int = 20, layers: int = 16) -> str:
    """A circuit whose simulation keeps a worker busy for seconds (a 20-qubit statevector).

    Measured on the reference worker (Aer, one thread) on a loaded 2-core machine: 20 qubits
    and 10 layers take 2.3 s, 16 layers about 3.5 s; the number of shots hardly matters, since
    Aer samples every shot from one final statevector.
    """
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{qubits}] q;", f"bit[{qubits}] c;"]
    for layer in range(layers):
        gate = "h" if layer % 2 == 0 else "rx(0.3)"
        lines += [f"{gate} q[{i}];" for i in range(qubits)]
        lines += [f"cx q[{i}], q[{i + 1}];" for i in range(qubits - 1)]
    lines.append("c = measure q;")
    return "\n".join(lines) + "\n"


# --- the deployment's own view of its health --------------------------------------------------


def names_component(response: ApiResponse, component: str) -> bool:
    """Whether an unhealthy /health answer names ``component`` as failing.

    The contract only says "the failing component named": a ``<component>_status`` field that
    is not ``connected``, or the name in a list or text of the answer, both count.
    """
    status = response.field(f"{component}_status")
    if isinstance(status, str):
        return status != "connected"
    return component in response.text.lower()


async def health_when(
    api: ApiClient, done: Callable[[ApiResponse | None], bool], timeout_s: float
) -> ApiResponse | None:
    """Poll /health until ``done``; the last answer (None: the API did not answer)."""
    result = await poll_until(lambda: quietly(api.health), done, timeout_s)
    return result.value


def is_healthy(response: ApiResponse | None) -> bool:
    return (
        response is not None
        and response.status_code == 200
        and response.field("status") == "healthy"
    )


def describe_health(response: ApiResponse | None) -> str:
    if response is None:
        return "the API did not answer /health"
    return f"/health answered {response.status_code}: {response.text[:200]}"


async def require_outage_reported(
    api: ApiClient, component: str, environment: Environment
) -> ApiResponse:
    """/health answers 503 unhealthy naming ``component``, within the health limit each time."""
    limit_s = environment.thresholds.health_s

    def reports_it(response: ApiResponse | None) -> bool:
        return (
            response is not None
            and response.status_code == 503
            and response.field("status") == "unhealthy"
            and names_component(response, component)
        )

    response = await health_when(api, reports_it, OUTAGE_VISIBLE_S)
    if not reports_it(response):
        raise DeploymentFault(
            "api",
            f"with the {component} down, {describe_health(response)} (expected 503 unhealthy "
            f"naming the {component})",
        )
    assert response is not None
    if response.elapsed_ms > limit_s * 1000:
        raise DeploymentFault(
            "api",
            f"with the {component} down, /health took {response.elapsed_ms:.0f} ms "
            f"(limit {limit_s:g} s)",
        )
    return response


def require_clean_refusal(response: ApiResponse, component: str) -> None:
    """A submission during an outage: 502/503/504 with a JSON body, never a 500 or a trace."""
    clean = response.body is not None and "traceback" not in response.text.lower()
    if response.status_code in OUTAGE_STATUSES and clean:
        return
    raise DeploymentFault(
        "api",
        f"with the {component} down, a submission answered {response.status_code} "
        f"(expected 503 with a JSON error, no trace): {response.text[:200]}",
    )


# --- changing the deployment ------------------------------------------------------------------


@dataclass
class Intervention:
    """One component taken down by the suite, and what it takes to have it back.

    ``restore`` starts it again and waits until the API is healthy and (``consumers_after``)
    workers consume the task queue; calling it again is a no-op, so teardown always calls it.
    """

    controller: DeploymentController
    part: DeploymentPart
    api: ApiClient
    broker: BrokerInspector
    environment: Environment
    consumer_watch: ConsumerWatch
    consumers_after: bool = True
    down: bool = False

    async def take_down(self, action: Action) -> None:
        """``stop`` or ``kill`` the component; restore() will start it again."""
        self.down = True
        await self.controller.run(action, self.part)
        if self.part == "worker":
            await self._require_consumers(lambda n: n == 0, "stop consuming")

    async def restore(self) -> None:
        """Start the component again and wait until the deployment is whole."""
        if not self.down:
            return
        await self.controller.run("start", self.part)
        self.down = False
        healthy = await health_when(self.api, is_healthy, RECOVERY_S)
        if not is_healthy(healthy):
            raise DeploymentFault(
                _component(self.part),
                f"the deployment did not recover within {RECOVERY_S:.0f} s of starting the "
                f"{self.part} again: {describe_health(healthy)}",
            )
        # Also waits until the suite's own broker connection is back after a broker restart.
        minimum = self.environment.expectations.min_consumers if self.consumers_after else 0
        await self._require_consumers(lambda n: n >= minimum, "consume again")
        self.consumer_watch.reset()

    async def _require_consumers(self, done: Callable[[int], bool], what: str) -> None:
        queue_name = self.environment.expectations.queue_name
        consumers = await poll_until(
            lambda: live_consumers(self.broker, queue_name),
            lambda n: n >= 0 and done(n),
            RECOVERY_S,
        )
        if not consumers.satisfied:
            raise DeploymentFault(
                "workers",
                f"the workers did not {what} within {RECOVERY_S:.0f} s "
                f"({queue_name} has {max(consumers.value, 0)} consumers)",
            )


_COMPONENT_OF: dict[str, Component] = {
    "api": "api",
    "worker": "workers",
    "database": "database",
    "broker": "queue",
}


def _component(part: DeploymentPart) -> Component:
    return _COMPONENT_OF[part]


async def live_consumers(broker: BrokerInspector, queue_name: str) -> int:
    """Consumers of the queue right now; -1 while the broker or the queue cannot be seen."""
    state = await quietly(lambda: broker.live_state(queue_name))
    return -1 if state is None else state.consumers


async def live_messages(broker: BrokerInspector, queue_name: str) -> int:
    """Messages waiting in the queue right now; -1 while the broker or queue cannot be seen."""
    state = await quietly(lambda: broker.live_state(queue_name))
    return -1 if state is None else state.messages


# --- submissions and their fate ----------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One submission made during an outage: its marker, the answer, the task id if accepted."""

    marker: str
    response: ApiResponse | None
    task_id: str | None


async def submit_marked(tasks: ScenarioTasks, api: ApiClient, circuit: str, shots: int) -> Attempt:
    """POST a marked task whatever the answer (recorded in the ledger before it is sent)."""
    marker, sent = tasks.mark(circuit)
    try:
        response: ApiResponse | None = await api.post_task({"qc": sent, "shots": shots})
    except DeploymentFault:
        response = None
    task_id = response.field("task_id") if response is not None else None
    if response is not None and response.status_code == 200 and isinstance(task_id, str):
        tasks.created(marker, task_id)
        return Attempt(marker, response, task_id)
    return Attempt(marker, response, None)


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
) -> dict[str, TaskState]:
    """Wait until every task is completed or failed; otherwise say what became of them.

    ``after`` ends the diagnosis, e.g. "after the broker was restarted".
    """

    async def state_of(task_id: str) -> TaskState:
        state = await quietly(lambda: read_task_state(api, task_id))
        return TaskState("unreadable") if state is None else state

    async def states() -> dict[str, TaskState]:
        read = await asyncio.gather(*(state_of(task_id) for task_id in task_ids))
        return dict(zip(task_ids, read, strict=True))

    result = await poll_until(
        states, lambda now: all(s.status in TERMINAL_STATUSES for s in now.values()), timeout_s
    )
    if result.satisfied:
        return result.value
    queue_name = environment.expectations.queue_name
    waiting = await live_messages(broker, queue_name)
    consumers = await live_consumers(broker, queue_name)
    stuck = Counter(s.status or "unknown to the API" for s in result.value.values())
    stuck.subtract({s: stuck[s] for s in TERMINAL_STATUSES})
    summary = ", ".join(f"{n} {status}" for status, n in sorted(stuck.items()) if n > 0)
    unfinished = sum(n for n in stuck.values() if n > 0)
    queue = f"{queue_name} has {waiting} message(s) waiting and {consumers} consumer(s)"
    component: Component = "workers"
    cause = "the workers did not finish them"
    if stuck["unknown to the API"]:
        component, cause = "api", "accepted tasks are unknown to the API: they were lost"
    elif stuck["pending"] and waiting == 0 and consumers > 0:
        component, cause = "queue", "their messages were lost"
    elif stuck["pending"] and consumers <= 0:
        cause = "no worker consumes the queue"
    elif stuck["processing"]:
        cause = "a worker took them and never finished: the message was not redelivered"
    raise DeploymentFault(
        component,
        f"{unfinished} of {len(task_ids)} task(s) did not finish within {timeout_s:.0f} s "
        f"{after} ({summary}; {queue}): {cause}",
    )


async def require_completed_once(
    task_ids: Sequence[str], states: dict[str, TaskState], database: DatabaseInspector
) -> None:
    """Each task completed, with exactly one history row per transition (no duplicate run)."""
    problems: list[str] = []
    for task_id in task_ids:
        state = states.get(task_id)
        if state is None or state.status != "completed":
            status = state.status if state else "unknown"
            error = f": {state.error}" if state is not None and state.error else ""
            problems.append(f"task {task_id} is {status}{error}")
            continue
        history = [row.status for row in await database.fetch_history(task_id)]
        if history != COMPLETED_ONCE:
            problems.append(f"task {task_id} has history {history}")
    if problems:
        raise DeploymentFault(
            "workers",
            f"{len(problems)} of {len(task_ids)} task(s) not completed exactly once "
            f"(expected history {COMPLETED_ONCE}): " + "; ".join(problems[:3]),
        )


async def rows_left_by(attempts: Sequence[Attempt], database: DatabaseInspector) -> list[str]:
    """Task ids stored for refused submissions (there must be none)."""
    markers = [attempt.marker for attempt in attempts if attempt.task_id is None]
    return await database.task_ids_marked(markers)


async def wait_for_database(database: DatabaseInspector, timeout_s: float = RECOVERY_S) -> None:
    """The suite's own database connection works again after an outage."""
    back = await poll_until(lambda: quietly(database.ping), lambda ms: ms is not None, timeout_s)
    if not back.satisfied:
        raise DeploymentFault(
            "database", f"the database did not answer the suite within {timeout_s:.0f} s of restart"
        )


def counts_of(state: TaskState) -> dict[str, Any]:
    """The measurement counts a completed task reports (empty if it reports none)."""
    detail = state.detail if isinstance(state.detail, dict) else {}
    result = detail.get("result")
    return result if isinstance(result, dict) else {}
