"""Steps of features/p3_resilience.feature (the engine is qtask_verify.resilience)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pytest_bdd import parsers, scenarios

from qtask_verify import resilience
from qtask_verify.bdd import given, then, when
from qtask_verify.clients import ApiClient, BrokerInspector, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.controller import CommandController, DeploymentPart
from qtask_verify.errors import DeploymentFault, require
from qtask_verify.ledger import ScenarioTasks, SubmittedTask
from qtask_verify.resilience import Attempt, Intervention
from qtask_verify.waiting import (
    ConsumerWatch,
    TaskState,
    poll_until,
    read_task_state,
    wait_for_task,
)

scenarios("p3_resilience.feature")


def _intervention(
    part: DeploymentPart,
    controller: CommandController,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
    *,
    consumers_after: bool = True,
) -> Intervention:
    return Intervention(
        controller, part, api, broker, environment, consumer_watch, consumers_after=consumers_after
    )


@given("a circuit that keeps a worker busy for a few seconds", target_fixture="circuit")
def _() -> str:
    return resilience.busy_circuit()


@given("the workers are stopped", target_fixture="worker_intervention")
async def _(
    controller: CommandController,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
    scenario_tasks: ScenarioTasks,
) -> AsyncIterator[Intervention]:
    """Stops the workers; whatever happens next, they are started again and waited for."""
    workers = _intervention("worker", controller, api, broker, environment, consumer_watch)
    try:
        await workers.take_down("stop")
        yield workers
    finally:
        await workers.restore()


@when("the workers are killed while the task is running", target_fixture="worker_intervention")
async def _(
    submitted: SubmittedTask,
    controller: CommandController,
    api: ApiClient,
    broker: BrokerInspector,
    database: DatabaseInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
    scenario_tasks: ScenarioTasks,
) -> AsyncIterator[Intervention]:
    """SIGKILLs every worker once one of them runs the task, as a crash would."""
    started = await poll_until(
        lambda: read_task_state(api, submitted.task_id),
        lambda state: state.status != "pending",
        environment.thresholds.processing_s,
    )
    require(
        started.value.status == "processing",
        "workers",
        f"no worker started the task within {environment.thresholds.processing_s:g} s "
        f"(it is {started.value.status})",
    )
    workers = _intervention("worker", controller, api, broker, environment, consumer_watch)
    try:
        await workers.take_down("kill")
        row = await database.fetch_task(submitted.task_id)
        if row is not None and row.current_status != "processing":
            pytest.skip(
                f"not verified: the task was already {row.current_status} when the workers were "
                "killed (this deployment runs the busy circuit too fast to interrupt it)"
            )
        yield workers
    finally:
        await workers.restore()


@when("the workers are started again")
async def _(worker_intervention: Intervention) -> None:
    await worker_intervention.restore()


@when(parsers.parse("I submit {count:d} copies of the circuit"), target_fixture="task_ids")
async def _(circuit: str, count: int, scenario_tasks: ScenarioTasks) -> list[str]:
    return [(await scenario_tasks.submit(circuit, 1024)).task_id for _ in range(count)]


@when(parsers.parse("I submit {count:d} copies of the circuit at once"), target_fixture="task_ids")
async def _(circuit: str, count: int, scenario_tasks: ScenarioTasks) -> list[str]:
    return await resilience.submit_concurrently(scenario_tasks, circuit, 1024, count)


@when("the broker is restarted while the tasks wait in the task queue")
async def _(
    task_ids: list[str],
    worker_intervention: Intervention,
    controller: CommandController,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> AsyncIterator[None]:
    """Stops and starts the broker with the tasks' messages in the queue (workers stopped)."""
    name = environment.expectations.queue_name
    waiting = await resilience.live_messages(broker, name)
    require(
        waiting >= len(task_ids),
        "queue",
        f"{len(task_ids)} tasks were accepted but {name} holds {waiting} message(s) with no "
        "worker consuming",
    )
    restart = _intervention(
        "broker", controller, api, broker, environment, consumer_watch, consumers_after=False
    )
    try:
        await restart.take_down("stop")
        await restart.restore()
        after = await resilience.live_messages(broker, name)
        require(
            after >= len(task_ids),
            "queue",
            f"after a broker restart {name} holds {max(after, 0)} of the {len(task_ids)} "
            "waiting messages: the queue is not durable or the messages were not persistent",
        )
        yield
    finally:
        await restart.restore()


@then("the task completes within the recovery time limit", target_fixture="final_states")
async def _(
    submitted: SubmittedTask, api: ApiClient, broker: BrokerInspector, environment: Environment
) -> dict[str, TaskState]:
    return await resilience.wait_for_all(
        [submitted.task_id],
        api,
        broker,
        environment,
        resilience.RECOVERY_S,
        "after its worker was killed",
    )


@then("every task completes within the recovery time limit", target_fixture="final_states")
async def _(
    task_ids: list[str], api: ApiClient, broker: BrokerInspector, environment: Environment
) -> dict[str, TaskState]:
    return await resilience.wait_for_all(
        task_ids, api, broker, environment, resilience.RECOVERY_S, "after the recovery"
    )


@then("every task completes within the burst completion time limit", target_fixture="final_states")
async def _(
    task_ids: list[str], api: ApiClient, broker: BrokerInspector, environment: Environment
) -> dict[str, TaskState]:
    limit = environment.thresholds.concurrent_complete_s
    return await resilience.wait_for_all(
        task_ids, api, broker, environment, limit, "of being submitted together"
    )


@then("every task was completed exactly once")
async def _(final_states: dict[str, TaskState], database: DatabaseInspector) -> None:
    await resilience.require_completed_once(list(final_states), final_states, database)


@then(parsers.parse("its measurement counts sum to {shots:d} shots"))
def _(final_states: dict[str, TaskState], shots: int) -> None:
    for task_id, state in final_states.items():
        total = sum(resilience.counts_of(state).values())
        require(total == shots, "workers", f"task {task_id}: counts sum to {total}, not {shots}")


@then("every copy is accepted with its own task id")
def _(task_ids: list[str]) -> None:
    duplicates = len(task_ids) - len(set(task_ids))
    require(not duplicates, "api", f"{duplicates} task id(s) were handed out twice")


@when(parsers.parse("the {part} is stopped"), target_fixture="outage")
async def _(
    part: str,
    controller: CommandController,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
    scenario_tasks: ScenarioTasks,
) -> AsyncIterator[Intervention]:
    """Stops the database or the broker; whatever happens next, it is started again."""
    assert part in ("database", "broker"), part
    outage = _intervention(part, controller, api, broker, environment, consumer_watch)  # type: ignore[arg-type]
    try:
        await outage.take_down("stop")
        yield outage
    finally:
        await outage.restore()


@when(parsers.parse("the {part} is started again"))
async def _(part: str, outage: Intervention, database: DatabaseInspector) -> None:
    await outage.restore()
    await resilience.wait_for_database(database)


@then(parsers.parse("the API reports itself unhealthy, naming the {component}"))
async def _(component: str, api: ApiClient, environment: Environment) -> None:
    await resilience.require_outage_reported(api, component, environment)


@then("a submission is refused cleanly as a dependency outage", target_fixture="attempts")
async def _(
    circuit: str, outage: Intervention, api: ApiClient, scenario_tasks: ScenarioTasks
) -> list[Attempt]:
    attempt = await resilience.submit_marked(scenario_tasks, api, circuit, 1024)
    require(attempt.response is not None, "api", f"with the {outage.part} down, the API hung")
    assert attempt.response is not None
    resilience.require_clean_refusal(attempt.response, outage.part)
    return [attempt]


@when(
    parsers.parse("I submit {count:d} copies of the circuit while it is down"),
    target_fixture="attempts",
)
async def _(
    circuit: str, count: int, api: ApiClient, scenario_tasks: ScenarioTasks
) -> list[Attempt]:
    return [
        await resilience.submit_marked(scenario_tasks, api, circuit, 1024) for _ in range(count)
    ]


@then(
    "each of them is either accepted or refused cleanly as a dependency outage",
    target_fixture="task_ids",
)
def _(attempts: list[Attempt], outage: Intervention) -> list[str]:
    for attempt in attempts:
        if attempt.task_id is None:
            require(
                attempt.response is not None, "api", f"with the {outage.part} down, the API hung"
            )
            assert attempt.response is not None
            resilience.require_clean_refusal(attempt.response, outage.part)
    return [attempt.task_id for attempt in attempts if attempt.task_id is not None]


@then("the API reports itself healthy within the recovery time limit")
async def _(api: ApiClient, environment: Environment) -> None:
    response = await api.health()
    require(
        resilience.is_healthy(response),
        "api",
        f"after the recovery {resilience.describe_health(response)}",
    )


@then("the refused submissions left no task behind")
async def _(attempts: list[Attempt], database: DatabaseInspector) -> None:
    left = await resilience.rows_left_by(attempts, database)
    require(
        not left,
        "api",
        f"{len(left)} submission(s) refused during the outage were stored anyway ({left[:3]}): "
        "a client told its task failed may still see it run",
    )


@then("a new submission completes within the processing time limit")
async def _(
    circuit: str,
    scenario_tasks: ScenarioTasks,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> None:
    task = await scenario_tasks.submit(circuit, 1024)
    outcome = await wait_for_task(
        task.task_id, api, broker, environment, consumer_watch, environment.thresholds.processing_s
    )
    if outcome.state.status != "completed":
        raise DeploymentFault("workers", f"after the recovery a new task {outcome.state.status}")
