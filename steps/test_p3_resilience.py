"""Steps of features/p3_resilience.feature.

Every step that changes the deployment does it inside an intervention's context manager
(``qtask_verify.deployment.interventions``), so whatever happens next the component is started
again and the deployment is whole before the scenario ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import given, then, when
from qtask_verify.checks import outages, results, tasks
from qtask_verify.checks.circuits import busy_circuit
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.outages import Attempt
from qtask_verify.checks.tasks import TaskState
from qtask_verify.clients import ApiClient, BrokerInspector, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.interventions import (
    Intervention,
    Interventions,
    restart_with_waiting_messages,
    taken_down,
)
from qtask_verify.deployment.ledger import ScenarioTasks, SubmittedTask
from qtask_verify.deployment.probes import wait_for_database

scenarios("p3_resilience.feature")

SHOTS = 1024


@given("a circuit that keeps a worker busy for a few seconds", target_fixture="circuit")
def _() -> str:
    return busy_circuit()


@given("the workers are stopped", target_fixture="worker_intervention")
async def _(
    interventions: Interventions, scenario_tasks: ScenarioTasks
) -> AsyncIterator[Intervention]:
    async with taken_down(interventions.of("worker"), "stop") as workers:
        yield workers


@when("the workers are killed while the task is running", target_fixture="worker_intervention")
async def _(
    submitted: SubmittedTask,
    interventions: Interventions,
    api: ApiClient,
    database: DatabaseInspector,
    environment: Environment,
    scenario_tasks: ScenarioTasks,
) -> AsyncIterator[Intervention]:
    """SIGKILLs every worker once one of them runs the task, as a crash would."""
    await tasks.wait_until_running(submitted.task_id, api, environment.thresholds.processing_s)
    async with taken_down(interventions.of("worker"), "kill") as workers:
        if reason := await tasks.not_interrupted(submitted.task_id, database):
            pytest.skip(reason)
        yield workers


@when("the workers are started again")
async def _(worker_intervention: Intervention) -> None:
    await worker_intervention.restore()


@when(parsers.parse("I submit {count:d} copies of the circuit"), target_fixture="task_ids")
async def _(circuit: str, count: int, scenario_tasks: ScenarioTasks) -> list[str]:
    return await tasks.submit_copies(scenario_tasks, circuit, SHOTS, count)


@when(parsers.parse("I submit {count:d} copies of the circuit at once"), target_fixture="task_ids")
async def _(circuit: str, count: int, scenario_tasks: ScenarioTasks) -> list[str]:
    return await tasks.submit_concurrently(scenario_tasks, circuit, SHOTS, count)


@when("the broker is restarted while the tasks wait in the task queue")
async def _(
    task_ids: list[str],
    worker_intervention: Intervention,
    interventions: Interventions,
    broker: BrokerInspector,
    environment: Environment,
) -> None:
    """Stops and starts the broker with the tasks' messages in the queue (workers stopped)."""
    restart = interventions.of("broker", consumers_after=False)
    name = environment.expectations.queue_name
    await restart_with_waiting_messages(restart, broker, name, len(task_ids))


@then("the task completes within the recovery time limit", target_fixture="final_states")
async def _(
    submitted: SubmittedTask, api: ApiClient, broker: BrokerInspector, environment: Environment
) -> dict[str, TaskState]:
    limit = environment.thresholds.recovery_s
    after = "after its worker was killed"
    return await tasks.wait_for_all([submitted.task_id], api, broker, environment, limit, after)


@then("every task completes within the recovery time limit", target_fixture="final_states")
async def _(
    task_ids: list[str], api: ApiClient, broker: BrokerInspector, environment: Environment
) -> dict[str, TaskState]:
    limit = environment.thresholds.recovery_s
    return await tasks.wait_for_all(task_ids, api, broker, environment, limit, "after the recovery")


@then("every task completes within the burst completion time limit", target_fixture="final_states")
async def _(
    task_ids: list[str], api: ApiClient, broker: BrokerInspector, environment: Environment
) -> dict[str, TaskState]:
    limit = environment.thresholds.concurrent_complete_s
    after = "of being submitted together"
    return await tasks.wait_for_all(task_ids, api, broker, environment, limit, after)


@then("every task was completed exactly once")
async def _(final_states: dict[str, TaskState], database: DatabaseInspector) -> None:
    await tasks.require_completed_once(list(final_states), final_states, database)


@then(parsers.parse("its measurement counts sum to {shots:d} shots"))
def _(final_states: dict[str, TaskState], shots: int) -> None:
    for state in final_states.values():
        results.require_total(results.measured_counts(state), shots)


@then("every copy is accepted with its own task id")
def _(task_ids: list[str]) -> None:
    tasks.require_distinct_ids(task_ids)


@when(parsers.parse("the {part} is stopped"), target_fixture="outage")
async def _(
    part: str, interventions: Interventions, scenario_tasks: ScenarioTasks
) -> AsyncIterator[Intervention]:
    """Stops the database or the broker; whatever happens next, it is started again."""
    assert part in ("database", "broker"), part
    async with taken_down(interventions.of(part), "stop") as outage:  # type: ignore[arg-type]
        yield outage


@when(parsers.parse("the {part} is started again"))
async def _(
    part: str, outage: Intervention, database: DatabaseInspector, environment: Environment
) -> None:
    await outage.restore()
    await wait_for_database(database, environment.thresholds.recovery_s)


@then(parsers.parse("the API reports itself unhealthy, naming the {component}"))
async def _(component: str, api: ApiClient, environment: Environment) -> None:
    await outages.require_outage_reported(api, component, environment)


@then("a submission is refused cleanly as a dependency outage", target_fixture="attempts")
async def _(
    circuit: str, outage: Intervention, api: ApiClient, scenario_tasks: ScenarioTasks
) -> list[Attempt]:
    attempt = await outages.submit_marked(scenario_tasks, api, circuit, SHOTS)
    outages.require_refused_cleanly(attempt, outage.part)
    return [attempt]


@when(
    parsers.parse("I submit {count:d} copies of the circuit while it is down"),
    target_fixture="attempts",
)
async def _(
    circuit: str, count: int, api: ApiClient, scenario_tasks: ScenarioTasks
) -> list[Attempt]:
    return await outages.submissions_during_outage(scenario_tasks, api, circuit, SHOTS, count)


@then(
    "each of them is either accepted or refused cleanly as a dependency outage",
    target_fixture="task_ids",
)
def _(attempts: list[Attempt], outage: Intervention) -> list[str]:
    return outages.accepted_or_refused_cleanly(attempts, outage.part)


@then("the API reports itself healthy within the recovery time limit")
async def _(api: ApiClient) -> None:
    await outages.require_healthy(api)


@then("the refused submissions left no task behind")
async def _(attempts: list[Attempt], database: DatabaseInspector) -> None:
    await outages.require_no_rows_left(attempts, database)


@then("a new submission completes within the processing time limit")
async def _(
    circuit: str,
    scenario_tasks: ScenarioTasks,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> None:
    await tasks.require_new_task_completes(
        circuit, scenario_tasks, api, broker, environment, consumer_watch
    )
