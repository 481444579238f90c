"""Steps of features/p1_known_answers.feature."""

from __future__ import annotations

import pytest
from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import given, then, when
from qtask_verify.checks import results, timing
from qtask_verify.checks.circuits import KnownAnswer, known_answer
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.tasks import TaskOutcome
from qtask_verify.checks.timing import KnownBurst
from qtask_verify.clients import ApiClient, BrokerInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import ScenarioTasks, SubmittedTask

scenarios("p1_known_answers.feature")


@given(parsers.parse('the known-answer circuit "{name}"'), target_fixture="known_circuit")
def _(name: str) -> KnownAnswer:
    return known_answer(name)


@pytest.fixture
def circuit(known_circuit: KnownAnswer) -> str:
    """The source that "I submit the circuit" submits: the known-answer circuit's."""
    return known_circuit.source


# Provides the outcome again, so a task that did not complete with all its shots stops the
# scenario: the answer checks after it would only repeat that (see ``qtask_verify.promises``).
@then(
    parsers.parse("the task completed with counts that add up to {shots:d} shots"),
    target_fixture="outcome",
)
def _(outcome: TaskOutcome, shots: int) -> TaskOutcome:
    results.require_completed_total(outcome.state, shots)
    return outcome


@then("every measured outcome is as wide as the circuit's classical bits")
def _(outcome: TaskOutcome, known_circuit: KnownAnswer) -> None:
    results.require_circuit_width(results.measured_counts(outcome.state), known_circuit)


@then(parsers.parse("{expected} is measured in every shot"))
def _(
    outcome: TaskOutcome,
    known_circuit: KnownAnswer,
    submitted: SubmittedTask,
    expected: str,
    environment: Environment,
) -> None:
    counts = results.measured_counts(outcome.state)
    rate = environment.thresholds.known_answer_false_alarm
    results.require_row_answer(counts, known_circuit, submitted.shots, expected, rate)


@then(parsers.parse("the outcomes occur in the shares {shares} within the statistical bound"))
def _(
    outcome: TaskOutcome,
    known_circuit: KnownAnswer,
    submitted: SubmittedTask,
    shares: str,
    environment: Environment,
) -> None:
    counts = results.measured_counts(outcome.state)
    rate = environment.thresholds.known_answer_false_alarm
    results.require_row_answer(counts, known_circuit, submitted.shots, shares, rate)


@when("I submit these circuits all at once", target_fixture="known_burst")
async def _(datatable: list[list[str]], scenario_tasks: ScenarioTasks) -> KnownBurst:
    return await timing.submit_known_burst(scenario_tasks, datatable)


@when("every task has been processed within the processing time limit", target_fixture="finished")
async def _(
    known_burst: KnownBurst,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> list[results.KnownTask]:
    return await timing.known_burst_results(known_burst, api, broker, environment, consumer_watch)


@then("each task measured its own circuit's known answer for its own number of shots")
def _(finished: list[results.KnownTask], environment: Environment) -> None:
    results.require_own_answers(finished, environment.thresholds.known_answer_false_alarm)
