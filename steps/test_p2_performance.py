"""Steps of features/p2_performance.feature."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest
from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then, when
from qtask_verify.clients import ApiClient, BrokerInspector
from qtask_verify.config import Environment
from qtask_verify.errors import require
from qtask_verify.ledger import ScenarioTasks, SubmittedTask
from qtask_verify.plugin import record_performance
from qtask_verify.waiting import ConsumerWatch, wait_for_task

scenarios("p2_performance.feature")

# The burst's tasks are polled together: this far apart at most, so ten pollers leave the
# workers their CPU (a single task is polled more often, see wait_for_task).
BURST_POLL_S = 0.2


@dataclass(frozen=True)
class Burst:
    tasks: list[SubmittedTask]
    latencies_s: list[float]
    accepted_within_s: float


@when(
    parsers.parse("I submit the circuit {count:d} times, one after another"),
    target_fixture="submission_times_ms",
)
async def _(circuit: str, count: int, scenario_tasks: ScenarioTasks) -> list[float]:
    submitted = [await scenario_tasks.submit(circuit, 1024) for _ in range(count)]
    return [task.submission.response.elapsed_ms for task in submitted]


@then("the 95th percentile of the submission time is within the submission time limit")
def _(
    submission_times_ms: list[float], environment: Environment, request: pytest.FixtureRequest
) -> None:
    limit = environment.thresholds.submission_ms
    figure = record_performance(
        request.node, "submission latency", "ms", submission_times_ms, limit
    )
    require(
        figure.passed,
        "api",
        f"submission p95 {figure.p95:.0f} ms exceeds {limit:.0f} ms (p50 {figure.p50:.0f} ms)",
    )


@when(
    parsers.parse("I submit the circuit {count:d} times and wait for each to complete"),
    target_fixture="end_to_end_times_s",
)
async def _(
    circuit: str,
    count: int,
    scenario_tasks: ScenarioTasks,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        task = await scenario_tasks.submit(circuit, 1024)
        outcome = await wait_for_task(
            task.task_id,
            api,
            broker,
            environment,
            consumer_watch,
            environment.thresholds.processing_s,
        )
        require(outcome.state.status == "completed", "workers", f"a task {outcome.state.status}")
        times.append(time.perf_counter() - started)
    return times


@then("the 95th percentile of the end-to-end time is within the end-to-end time limit")
def _(
    end_to_end_times_s: list[float], environment: Environment, request: pytest.FixtureRequest
) -> None:
    limit = environment.thresholds.end_to_end_s
    figure = record_performance(request.node, "end-to-end latency", "s", end_to_end_times_s, limit)
    require(
        figure.passed,
        "workers",
        f"end-to-end p95 {figure.p95:.2f} s exceeds {limit:.1f} s (p50 {figure.p50:.2f} s)",
    )


@when("I submit a burst of concurrent copies of the circuit", target_fixture="burst")
async def _(circuit: str, scenario_tasks: ScenarioTasks, environment: Environment) -> Burst:
    count = environment.thresholds.concurrent_count
    started = time.perf_counter()
    tasks = await asyncio.gather(*(scenario_tasks.submit(circuit, 1024) for _ in range(count)))
    accepted_within_s = time.perf_counter() - started
    latencies = [task.submission.response.elapsed_ms / 1000 for task in tasks]
    return Burst(list(tasks), latencies, accepted_within_s)


@then("every submission of the burst is accepted within the burst acceptance time limit")
def _(burst: Burst, environment: Environment, request: pytest.FixtureRequest) -> None:
    limit = environment.thresholds.concurrent_accept_s
    record_performance(
        request.node,
        "burst acceptance",
        "s",
        burst.latencies_s,
        limit,
        passed=burst.accepted_within_s <= limit,
    )
    require(
        burst.accepted_within_s <= limit,
        "api",
        f"{len(burst.tasks)} concurrent submissions took {burst.accepted_within_s:.2f} s to be "
        f"accepted, more than {limit:.1f} s",
    )


@then("every task of the burst completes within the burst completion time limit")
async def _(
    burst: Burst,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
    request: pytest.FixtureRequest,
) -> None:
    limit = environment.thresholds.concurrent_complete_s
    started = time.perf_counter()

    async def completion_time(task: SubmittedTask) -> float:
        outcome = await wait_for_task(
            task.task_id, api, broker, environment, consumer_watch, limit, max_delay_s=BURST_POLL_S
        )
        require(outcome.state.status == "completed", "workers", f"a task {outcome.state.status}")
        return time.perf_counter() - started

    times = await asyncio.gather(*(completion_time(task) for task in burst.tasks))
    figure = record_performance(
        request.node, "burst completion", "s", times, limit, passed=max(times) <= limit
    )
    require(figure.passed, "workers", f"the burst took {max(times):.2f} s to complete")
