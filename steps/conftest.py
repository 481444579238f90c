"""Steps shared by several features: the deployment, circuits, submitting, waiting."""

from __future__ import annotations

import pytest
from pytest_bdd import parsers

from qtask_verify.bdd import given, then, when
from qtask_verify.checks import accounting, queue
from qtask_verify.checks.circuits import BELL_CIRCUIT, UNPARSABLE_CIRCUIT
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.tasks import TaskOutcome, wait_for_task
from qtask_verify.clients import ApiClient, BrokerInspector, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import ScenarioTasks, SubmittedTask


@given("the deployment under test", target_fixture="deployment")
def _(environment: Environment) -> Environment:
    """Binds the scenario to the environment chosen for the run (see environments.toml)."""
    return environment


@pytest.fixture
def bell_circuit() -> str:
    """Two entangled qubits: a correct execution measures only 00 and 11, about equally."""
    return BELL_CIRCUIT


@given("a Bell circuit on two qubits", target_fixture="circuit")
def _(bell_circuit: str) -> str:
    return bell_circuit


@given("a circuit that is not valid OpenQASM 3", target_fixture="circuit")
def _() -> str:
    return UNPARSABLE_CIRCUIT


@when(parsers.parse("I submit the circuit for {shots:d} shots"), target_fixture="submitted")
async def _(circuit: str, shots: int, scenario_tasks: ScenarioTasks) -> SubmittedTask:
    return await scenario_tasks.submit(circuit, shots)


@when("the task has been processed within the processing time limit", target_fixture="outcome")
async def _(
    submitted: SubmittedTask,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> TaskOutcome:
    limit_s = environment.thresholds.processing_s
    return await wait_for_task(submitted.task_id, api, broker, environment, consumer_watch, limit_s)


@when("I look up the task queue on the broker", target_fixture="queue_info")
async def _(broker: BrokerInspector, environment: Environment) -> queue.QueueLookup:
    return await queue.look_up(broker, environment)


@when("I count the consumers of the task queue", target_fixture="consumer_count")
async def _(
    broker: BrokerInspector, environment: Environment, consumer_watch: ConsumerWatch
) -> int:
    return await queue.task_queue_consumers(broker, environment, consumer_watch)


@then("every task submitted here ended with a consistent record")
async def _(
    scenario_tasks: ScenarioTasks,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    database: DatabaseInspector,
    consumer_watch: ConsumerWatch,
) -> None:
    await accounting.require_all_accounted(
        scenario_tasks.task_ids(), api, broker, environment, database, consumer_watch
    )
