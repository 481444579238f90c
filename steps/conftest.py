"""Steps shared by several features: the deployment, circuits, submitting, waiting."""

from __future__ import annotations

import pytest
from pytest_bdd import parsers
from pytest_bdd.scenario import scenario_wrapper_template_registry

from qtask_verify.bdd import given, when
from qtask_verify.circuits import BELL_CIRCUIT, UNPARSABLE_CIRCUIT
from qtask_verify.clients import ApiClient, BrokerInspector, QueueInfo
from qtask_verify.config import Environment
from qtask_verify.errors import DeploymentFault
from qtask_verify.ledger import ScenarioTasks, SubmittedTask
from qtask_verify.plugin import AWAITS_WORKERS
from qtask_verify.waiting import ConsumerWatch, TaskOutcome, wait_for_task

# The text of the step below that waits for a worker (the catalogue check reads step texts
# from the decorators, so it is spelled out there too).
PROCESSED = "the task has been processed within the processing time limit"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the scenarios with a step that waits for a worker (the plugin runs them last)."""
    for item in items:
        function = getattr(item, "obj", None)
        template = scenario_wrapper_template_registry.get(function) if callable(function) else None
        if template is not None and any(step.name == PROCESSED for step in template.steps):
            item.add_marker(AWAITS_WORKERS)


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
    return await wait_for_task(
        submitted.task_id,
        api,
        broker,
        environment,
        consumer_watch,
        environment.thresholds.processing_s,
    )


@when("I look up the task queue on the broker", target_fixture="queue_info")
async def _(broker: BrokerInspector, environment: Environment) -> QueueInfo | None:
    return await broker.queue(environment.expectations.queue_name)


@when("I count the consumers of the task queue", target_fixture="consumer_count")
async def _(
    broker: BrokerInspector, environment: Environment, consumer_watch: ConsumerWatch
) -> int:
    await consumer_watch.settled()
    queue_name = environment.expectations.queue_name
    state = await broker.live_state(queue_name)
    if state is None:
        raise DeploymentFault("queue", f"queue {queue_name} does not exist")
    consumer_watch.observe(state.consumers)
    return state.consumers
