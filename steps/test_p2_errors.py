"""Steps of features/p2_errors.feature."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then, when
from qtask_verify.clients import ApiClient, ApiResponse, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.errors import require
from qtask_verify.ledger import MARKER_PREFIX, ScenarioTasks
from qtask_verify.waiting import TaskOutcome

scenarios("p2_errors.feature")

# A refused request is matched against rows submitted around it; the clocks of the database
# and the service may differ slightly.
CLOCK_MARGIN = timedelta(seconds=1)
MAX_SHOTS = 100_000

# What each example sends; "{circuit}" is replaced by a marked, valid circuit.
INVALID_BODIES: dict[str, dict[str, Any]] = {
    "a task without a circuit": {"shots": 100},
    "a task with an empty circuit": {"qc": "", "shots": 100},
    "a task whose circuit is a number": {"qc": 12345, "shots": 100},
    "a task with zero shots": {"qc": "{circuit}", "shots": 0},
    "a task with more shots than allowed": {"qc": "{circuit}", "shots": MAX_SHOTS + 1},
    "a task with a negative number of shots": {"qc": "{circuit}", "shots": -5},
    "a task whose shots are not a whole number": {"qc": "{circuit}", "shots": 10.5},
    "a task larger than the allowed request size": {"qc": "{circuit}{padding}", "shots": 100},
}
# The contract accepts `circuit` as an older name of `qc`; details may name either.
FIELD_NAMES = {"qc": ("qc", "circuit"), "shots": ("shots",), "body": ("body",)}


@dataclass(frozen=True)
class RefusedRequest:
    response: ApiResponse
    marker: str | None
    window_start: datetime
    window_end: datetime


async def _send(database: DatabaseInspector, send: Any, marker: str | None) -> RefusedRequest:
    start = await database.now()
    response = await send()
    end = await database.now()
    return RefusedRequest(response, marker, start - CLOCK_MARGIN, end + CLOCK_MARGIN)


@when(parsers.re(r"I submit (?P<request>a task .+)"), target_fixture="refused")
async def _(
    request: str,
    api: ApiClient,
    database: DatabaseInspector,
    scenario_tasks: ScenarioTasks,
    bell_circuit: str,
    environment: Environment,
) -> RefusedRequest:
    body = dict(INVALID_BODIES[request])
    marker = None
    if str(body.get("qc", "")).startswith("{circuit}"):
        # Recorded in the ledger, so a wrongly stored task is still cleaned up.
        marker, circuit = scenario_tasks.mark(bell_circuit)
        padding = "// padding\n" * (environment.expectations.max_body_bytes // 11 + 1)
        body["qc"] = body["qc"].format(circuit=circuit, padding=padding)
    return await _send(database, lambda: api.post_task(body), marker)


@when("I submit a request body that is not valid JSON", target_fixture="refused")
async def _(api: ApiClient, database: DatabaseInspector) -> RefusedRequest:
    return await _send(
        database, lambda: api.post_raw_task(b'{"qc": "OPENQASM 3.0;", "shots": '), None
    )


@then(parsers.parse('the submission is refused as invalid, naming "{field}"'))
def _(refused: RefusedRequest, field: str) -> None:
    response = refused.response
    require(
        response.status_code == 400,
        "api",
        f"an invalid submission answered {response.status_code}, not 400: {response.text[:200]}",
    )
    details = json.dumps(response.body)
    require(
        response.body is not None and any(name in details for name in FIELD_NAMES[field]),
        "api",
        f"the refusal does not name the field {field!r}: {response.text[:200]}",
    )


@then("the submission is refused as invalid with details")
def _(refused: RefusedRequest) -> None:
    response = refused.response
    require(
        response.status_code == 400 and isinstance(response.body, dict),
        "api",
        f"a malformed body answered {response.status_code}, not 400 with JSON details: "
        f"{response.text[:200]}",
    )


@then("no task was stored for it")
async def _(refused: RefusedRequest, database: DatabaseInspector) -> None:
    # Every valid submission of the suite carries a marker; a row in the request's time window
    # without one (or with this request's marker) was written for the refused request.
    stored = await database.count_untracked_tasks_between(
        refused.window_start,
        refused.window_end,
        MARKER_PREFIX,
        refused.marker or MARKER_PREFIX + "none",
    )
    require(stored == 0, "api", f"a refused submission left {stored} task(s) in the database")


@when("I ask for a task that does not exist", target_fixture="lookup")
async def _(api: ApiClient) -> ApiResponse:
    return await api.get_task(str(uuid.uuid4()))


@then("the API answers that the task was not found")
def _(lookup: ApiResponse) -> None:
    require(
        lookup.status_code == 404
        and lookup.field("status") == "error"
        and lookup.field("message") == "Task not found.",
        "api",
        f"an unknown task answered {lookup.status_code} {lookup.text[:200]}, "
        'not 404 {"status": "error", "message": "Task not found."}',
    )


@when("I ask for a task with a malformed id", target_fixture="lookup")
async def _(api: ApiClient) -> ApiResponse:
    return await api.get_task("not-a-task-id")


@then("the API refuses the id as invalid or unknown")
def _(lookup: ApiResponse) -> None:
    require(
        lookup.status_code in (400, 404) and lookup.body is not None,
        "api",
        f"a malformed task id answered {lookup.status_code}, not 400 or 404 with details: "
        f"{lookup.text[:200]}",
    )


@then("the task has failed with an error message")
def _(outcome: TaskOutcome) -> None:
    state = outcome.state
    require(state.status == "failed", "workers", f"an unparsable circuit ended {state.status}")
    require(bool(state.error), "api", "the failed task carries no error message")
