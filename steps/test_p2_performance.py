"""Steps of features/p2_performance.feature."""

from __future__ import annotations

import pytest
from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then, when
from qtask_verify.checks import timing
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.timing import Burst, StatusReads
from qtask_verify.clients import ApiClient, BrokerInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import ScenarioTasks, SubmittedTask
from qtask_verify.errors import require
from qtask_verify.plugin.performance import record_performance

scenarios("p2_performance.feature")

SHOTS = 1024


@when(
    parsers.parse("I submit the circuit {count:d} times, one after another"),
    target_fixture="submission_times_ms",
)
async def _(circuit: str, count: int, scenario_tasks: ScenarioTasks) -> list[float]:
    return await timing.submission_times_ms(scenario_tasks, circuit, SHOTS, count)


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
    return await timing.end_to_end_times_s(
        scenario_tasks, circuit, SHOTS, count, api, broker, environment, consumer_watch
    )


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


@when(
    parsers.parse("I read the task's status {count:d} times, one after another"),
    target_fixture="status_reads",
)
async def _(
    submitted: SubmittedTask, count: int, api: ApiClient, environment: Environment
) -> StatusReads:
    limit = environment.thresholds.status_read_ms
    return await timing.status_read_times_ms(api, submitted.task_id, count, limit)


@then("the 95th percentile of the status read time is within the status read time limit")
def _(status_reads: StatusReads, request: pytest.FixtureRequest) -> None:
    figure = record_performance(
        request.node, "status read latency", "ms", status_reads.times_ms, status_reads.limit_ms
    )
    timing.require_status_reads_within(status_reads, figure.p50, figure.p95)


@when("I submit a burst of concurrent copies of the circuit", target_fixture="burst")
async def _(circuit: str, scenario_tasks: ScenarioTasks, environment: Environment) -> Burst:
    count = environment.thresholds.concurrent_count
    return await timing.submit_burst(scenario_tasks, circuit, SHOTS, count)


@then("every submission of the burst is accepted within the burst acceptance time limit")
def _(burst: Burst, environment: Environment, request: pytest.FixtureRequest) -> None:
    limit = environment.thresholds.concurrent_accept_s
    within = burst.accepted_within_s <= limit
    record_performance(request.node, "burst acceptance", "s", burst.latencies_s, limit, within)
    require(
        within,
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
    times = await timing.burst_completion_times_s(burst, api, broker, environment, consumer_watch)
    limit = environment.thresholds.concurrent_complete_s
    passed = max(times) <= limit
    record_performance(request.node, "burst completion", "s", times, limit, passed)
    require(passed, "workers", f"the burst took {max(times):.2f} s to complete")
