"""Timed runs of tasks for the performance baselines (one after another, and in a burst), timed
reads of a task's status, and bursts of known-answer circuits, each task judged by its own
answer."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..clients import ApiClient, BrokerInspector
from ..config import Environment
from ..deployment.ledger import ScenarioTasks, SubmittedTask
from ..errors import require
from .circuits import ExamplesRowError, KnownAnswer, known_answer
from .consumers import ConsumerWatch
from .results import KnownTask
from .tasks import wait_for_task

# The burst's tasks are polled together: this far apart at most, so ten pollers leave the
# workers their CPU (a single task is polled more often, see wait_for_task).
BURST_POLL_S = 0.2


@dataclass(frozen=True)
class Burst:
    """Tasks submitted at once, each submission's latency, and how long all took."""

    tasks: list[SubmittedTask]
    latencies_s: list[float]
    accepted_within_s: float


async def submission_times_ms(
    tasks: ScenarioTasks, circuit: str, shots: int, count: int
) -> list[float]:
    """Submit ``count`` times, one after another; each submission's latency."""
    submitted = [await tasks.submit(circuit, shots) for _ in range(count)]
    return [task.submission.response.elapsed_ms for task in submitted]


async def end_to_end_times_s(
    tasks: ScenarioTasks,
    circuit: str,
    shots: int,
    count: int,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
) -> list[float]:
    """Submit and wait for completion, ``count`` times in turn; each one's time."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        task = await tasks.submit(circuit, shots)
        outcome = await wait_for_task(
            task.task_id, api, broker, environment, watch, environment.thresholds.processing_s
        )
        require(outcome.state.status == "completed", "workers", f"a task {outcome.state.status}")
        times.append(time.perf_counter() - started)
    return times


async def submit_burst(tasks: ScenarioTasks, circuit: str, shots: int, count: int) -> Burst:
    started = time.perf_counter()
    submitted = await asyncio.gather(*(tasks.submit(circuit, shots) for _ in range(count)))
    accepted_within_s = time.perf_counter() - started
    latencies = [task.submission.response.elapsed_ms / 1000 for task in submitted]
    return Burst(list(submitted), latencies, accepted_within_s)


async def burst_completion_times_s(
    burst: Burst,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
) -> list[float]:
    """When each task of the burst completed, counted from now."""
    limit = environment.thresholds.concurrent_complete_s
    started = time.perf_counter()

    async def completion_time(task: SubmittedTask) -> float:
        outcome = await wait_for_task(
            task.task_id, api, broker, environment, watch, limit, max_delay_s=BURST_POLL_S
        )
        require(outcome.state.status == "completed", "workers", f"a task {outcome.state.status}")
        return time.perf_counter() - started

    return list(await asyncio.gather(*(completion_time(task) for task in burst.tasks)))


@dataclass(frozen=True)
class StatusReads:
    """Latencies of reads of one task's status, in milliseconds, and how many were planned."""

    times_ms: list[float]
    planned: int
    limit_ms: float

    @property
    def over_limit(self) -> int:
        return sum(time_ms > self.limit_ms for time_ms in self.times_ms)


async def status_read_times_ms(
    api: ApiClient, task_id: str, count: int, limit_ms: float
) -> StatusReads:
    """Read the task's status ``count`` times, one after another.

    The reads stop early once more of them took longer than ``limit_ms`` than the p95 of
    ``count`` (nearest rank) lets pass: no later read could bring it within the limit.
    """
    tolerated = count - math.ceil(0.95 * count)
    times: list[float] = []
    while len(times) < count and sum(time_ms > limit_ms for time_ms in times) <= tolerated:
        response = await api.get_task(task_id)
        require(
            response.status_code == 200,
            "api",
            f"reading task {task_id} answered {response.status_code}, not 200: "
            f"{response.text[:200]}",
        )
        times.append(response.elapsed_ms)
    return StatusReads(times, count, limit_ms)


def require_status_reads_within(reads: StatusReads, p50_ms: float, p95_ms: float) -> None:
    """The reads' p95 is within the limit; otherwise say how many reads were slow."""
    made = len(reads.times_ms)
    unmade = reads.planned - made
    stopped = f", so the other {unmade} were not made" if unmade else ""
    require(
        p95_ms <= reads.limit_ms,
        "api",
        f"reading a finished task's status: p95 {p95_ms:.0f} ms exceeds {reads.limit_ms:.0f} ms "
        f"(p50 {p50_ms:.0f} ms; {reads.over_limit} of {made} reads over the limit{stopped})",
    )


@dataclass(frozen=True)
class KnownBurst:
    """Known-answer circuits submitted at once: each task with the circuit and shots it asked."""

    tasks: list[tuple[SubmittedTask, KnownAnswer]]


def burst_plan(table: Sequence[Sequence[str]]) -> list[tuple[KnownAnswer, int]]:
    """The (circuit, shots) of each row of a table headed "circuit | shots"."""
    header, *rows = [[cell.strip() for cell in row] for row in table]
    if header != ["circuit", "shots"]:
        raise ExamplesRowError(f'the burst\'s table is headed {header}, not ["circuit", "shots"]')
    plan = []
    for number, (name, shots) in enumerate(rows, start=1):
        row = f'row {number} of the burst\'s table ("{name}", {shots})'
        if not shots.isdigit():
            raise ExamplesRowError(f"{row} gives shots that are not a whole number")
        plan.append((known_answer(name, row), int(shots)))
    return plan


async def submit_known_burst(tasks: ScenarioTasks, table: Sequence[Sequence[str]]) -> KnownBurst:
    """Submit every row's circuit with its shots, all at once; every one must be accepted."""
    plan = burst_plan(table)
    submitted = await asyncio.gather(*(tasks.submit(k.source, shots) for k, shots in plan))
    return KnownBurst([(task, known) for task, (known, _) in zip(submitted, plan, strict=True)])


async def known_burst_results(
    burst: KnownBurst,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
) -> list[KnownTask]:
    """Wait for every task of the burst (polled together) and return what each reported."""
    limit = environment.thresholds.processing_s

    async def finished(task: SubmittedTask, known: KnownAnswer) -> KnownTask:
        outcome = await wait_for_task(
            task.task_id, api, broker, environment, watch, limit, max_delay_s=BURST_POLL_S
        )
        return KnownTask(task.task_id, known, task.shots, outcome.state)

    return list(await asyncio.gather(*(finished(task, known) for task, known in burst.tasks)))
