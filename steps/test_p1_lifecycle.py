"""Steps of features/p1_lifecycle.feature."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then
from qtask_verify.checks import results, views
from qtask_verify.checks.tasks import TaskOutcome
from qtask_verify.clients import ApiClient, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import SubmittedTask
from qtask_verify.errors import require

scenarios("p1_lifecycle.feature")

BELL_OUTCOMES = ("00", "11")


@then("the submission is accepted with a task id")
def _(submitted: SubmittedTask) -> None:
    response = submitted.submission.response
    require(response.status_code == 200, "api", f"submission answered {response.status_code}")
    require(bool(submitted.task_id), "api", "the submission answered without a task id")


@then(parsers.parse("the database holds the task with the exact circuit and {shots:d} shots"))
async def _(submitted: SubmittedTask, shots: int, database: DatabaseInspector) -> None:
    await views.require_stored_as_submitted(database, submitted.task_id, submitted.circuit, shots)


@then("its first recorded status is pending")
async def _(submitted: SubmittedTask, database: DatabaseInspector) -> None:
    history = await database.fetch_history(submitted.task_id)
    first = history[0].status if history else None
    require(
        first == "pending", "database", f"the first recorded status is {first!r}, not 'pending'"
    )


# Provides the outcome again, so a task that did not complete stops the scenario: the result
# checks after it have nothing to check (see ``qtask_verify.promises``).
@then("the task is completed", target_fixture="outcome")
def _(outcome: TaskOutcome) -> TaskOutcome:
    state = outcome.state
    error = f": {state.error}" if state.error else ""
    require(state.status == "completed", "workers", f"the task {state.status}{error}")
    return outcome


@then(parsers.parse("every measured bitstring is {width:d} bits wide"))
def _(outcome: TaskOutcome, width: int) -> None:
    results.require_width(results.measured_counts(outcome.state), width)


@then(parsers.parse("the counts sum to {shots:d} shots"))
def _(outcome: TaskOutcome, shots: int) -> None:
    results.require_total(results.measured_counts(outcome.state), shots)


@then("only the outcomes 00 and 11 are measured")
def _(outcome: TaskOutcome) -> None:
    results.require_only(results.measured_counts(outcome.state), BELL_OUTCOMES)


@then("each outcome occurs in half of the shots within the statistical bound of a fair coin")
def _(outcome: TaskOutcome, environment: Environment) -> None:
    counts = results.measured_counts(outcome.state)
    results.require_fair_coin(counts, BELL_OUTCOMES, environment.thresholds.bell_sigma)


@then(parsers.parse("its recorded history is {statuses}"))
async def _(submitted: SubmittedTask, statuses: str, database: DatabaseInspector) -> None:
    expected = [s.strip() for s in statuses.split(",")]
    recorded = [row.status for row in await database.fetch_history(submitted.task_id)]
    require(recorded == expected, "database", f"the recorded history is {recorded}, not {expected}")


@then("the recorded history is in chronological order")
async def _(submitted: SubmittedTask, database: DatabaseInspector) -> None:
    await views.require_history_in_order(database, submitted.task_id)


@then("the API's view of the task equals the database's")
async def _(submitted: SubmittedTask, api: ApiClient, database: DatabaseInspector) -> None:
    await views.require_api_matches_database(submitted.task_id, api, database)
