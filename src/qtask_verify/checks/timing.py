"""Timed runs of tasks for the performance baselines: one after another, and in a burst."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ..clients import ApiClient, BrokerInspector
from ..config import Environment
from ..deployment.ledger import ScenarioTasks, SubmittedTask
from ..errors import require
from .consumers import ConsumerWatch
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
