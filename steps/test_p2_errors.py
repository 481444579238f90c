"""Steps of features/p2_errors.feature."""

from __future__ import annotations

import uuid

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then, when
from qtask_verify.checks import messages, refusals
from qtask_verify.checks.refusals import RefusalBatch, RefusedRequest
from qtask_verify.checks.tasks import TaskOutcome
from qtask_verify.clients import ApiClient, ApiResponse, DatabaseInspector
from qtask_verify.clients.tracing import MessageTrace
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import CleanupLedger, ScenarioTasks
from qtask_verify.errors import require

scenarios("p2_errors.feature")


@when(parsers.re(r"I submit (?P<request>a task .+)"), target_fixture="refused")
async def _(
    request: str,
    api: ApiClient,
    database: DatabaseInspector,
    scenario_tasks: ScenarioTasks,
    bell_circuit: str,
    environment: Environment,
) -> RefusedRequest:
    return await refusals.send_invalid_submission(
        request, bell_circuit, environment.expectations, api, database, scenario_tasks
    )


@when("I submit a request body that is not valid JSON", target_fixture="refused")
async def _(api: ApiClient, database: DatabaseInspector) -> RefusedRequest:
    return await refusals.send_malformed_json(api, database)


@then(parsers.parse('the submission is refused as invalid, naming "{field}"'))
def _(refused: RefusedRequest, field: str) -> None:
    refusals.require_refused_naming(refused, field)


@then("the submission is refused as invalid with details")
def _(refused: RefusedRequest) -> None:
    refusals.require_refused_with_details(refused)


@then("no task was stored for it")
async def _(refused: RefusedRequest, database: DatabaseInspector) -> None:
    await refusals.require_nothing_stored(refused, database)


@when("I send every kind of invalid submission", target_fixture="refusal_batch")
async def _(
    api: ApiClient,
    database: DatabaseInspector,
    scenario_tasks: ScenarioTasks,
    bell_circuit: str,
    environment: Environment,
) -> RefusalBatch:
    return await refusals.send_every_invalid_submission(
        bell_circuit, environment.expectations, api, database, scenario_tasks
    )


@then("the broker saw no task message published for any of them")
async def _(
    refusal_batch: RefusalBatch,
    message_trace: MessageTrace,
    scenario_tasks: ScenarioTasks,
    bell_circuit: str,
    database: DatabaseInspector,
    cleanup_ledger: CleanupLedger,
    environment: Environment,
) -> None:
    await messages.require_no_message_for_refused(
        message_trace,
        refusal_batch.since,
        environment.expectations.queue_name,
        scenario_tasks,
        bell_circuit,
        database,
        cleanup_ledger,
    )


@when("I ask for a task that does not exist", target_fixture="lookup")
async def _(api: ApiClient) -> ApiResponse:
    return await api.get_task(str(uuid.uuid4()))


@then("the API answers that the task was not found")
def _(lookup: ApiResponse) -> None:
    refusals.require_not_found(lookup)


@when("I ask for a task with a malformed id", target_fixture="lookup")
async def _(api: ApiClient) -> ApiResponse:
    return await api.get_task("not-a-task-id")


@then("the API refuses the id as invalid or unknown")
def _(lookup: ApiResponse) -> None:
    refusals.require_invalid_or_unknown(lookup)


@then("the task has failed with an error message")
def _(outcome: TaskOutcome) -> None:
    state = outcome.state
    require(state.status == "failed", "workers", f"an unparsable circuit ended {state.status}")
    require(bool(state.error), "api", "the failed task carries no error message")
