"""Steps of features/p2_compatibility.feature."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then, when
from qtask_verify.checks import compatibility, views
from qtask_verify.checks.compatibility import OlderSubmission
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.clients import ApiClient, BrokerInspector, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import ScenarioTasks, SubmittedTask

scenarios("p2_compatibility.feature")


@when(
    parsers.parse("I submit the circuit for {shots:d} shots under its older field name"),
    target_fixture="older_submission",
)
async def _(
    circuit: str, shots: int, scenario_tasks: ScenarioTasks, api: ApiClient
) -> OlderSubmission:
    return await compatibility.submit_under_older_name(scenario_tasks, api, circuit, shots)


# Provides the task to the later steps, so a refusal stops the scenario: nothing else to check.
@then(
    "the submission under the older field name is accepted with a task id",
    target_fixture="submitted",
)
def _(older_submission: OlderSubmission) -> SubmittedTask:
    return compatibility.require_accepted(older_submission)


@then(parsers.parse("the task is stored with exactly the circuit sent and {shots:d} shots"))
async def _(submitted: SubmittedTask, shots: int, database: DatabaseInspector) -> None:
    await views.require_stored_as_submitted(database, submitted.task_id, submitted.circuit, shots)


@then("the task completes within the processing time limit")
async def _(
    submitted: SubmittedTask,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> None:
    await compatibility.require_completes(submitted, api, broker, environment, consumer_watch)
