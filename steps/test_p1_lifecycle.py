"""Steps of features/p1_lifecycle.feature."""

from __future__ import annotations

import math

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then
from qtask_verify.clients import ApiClient, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.errors import require
from qtask_verify.ledger import SubmittedTask
from qtask_verify.waiting import TaskOutcome

scenarios("p1_lifecycle.feature")


def _counts(outcome: TaskOutcome) -> dict[str, int]:
    result = outcome.state.detail.get("result") if isinstance(outcome.state.detail, dict) else None
    require(
        isinstance(result, dict)
        and all(isinstance(k, str) and isinstance(v, int) for k, v in result.items()),
        "workers",
        f"the result is not a flat object of bitstring -> count: {result!r}",
    )
    assert isinstance(result, dict)
    return result


@then("the submission is accepted with a task id")
def _(submitted: SubmittedTask) -> None:
    response = submitted.submission.response
    require(response.status_code == 200, "api", f"submission answered {response.status_code}")
    require(bool(submitted.task_id), "api", "the submission answered without a task id")


@then(parsers.parse("the database holds the task with the exact circuit and {shots:d} shots"))
async def _(submitted: SubmittedTask, shots: int, database: DatabaseInspector) -> None:
    row = await database.fetch_task(submitted.task_id)
    require(row is not None, "database", f"task {submitted.task_id} is not in the database")
    assert row is not None
    require(
        row.circuit == submitted.circuit,
        "database",
        "the stored circuit differs from the one submitted",
    )
    require(
        row.shots == shots, "database", f"the task is stored with {row.shots} shots, not {shots}"
    )


@then("its first recorded status is pending")
async def _(submitted: SubmittedTask, database: DatabaseInspector) -> None:
    history = await database.fetch_history(submitted.task_id)
    first = history[0].status if history else None
    require(
        first == "pending",
        "database",
        f"the first recorded status is {first!r}, not 'pending'",
    )


@then("the task is completed")
def _(outcome: TaskOutcome) -> None:
    state = outcome.state
    require(
        state.status == "completed",
        "workers",
        f"the task {state.status}" + (f": {state.error}" if state.error else ""),
    )


@then(parsers.parse("every measured bitstring is {width:d} bits wide"))
def _(outcome: TaskOutcome, width: int) -> None:
    wrong = [k for k in _counts(outcome) if len(k) != width or set(k) - {"0", "1"}]
    require(not wrong, "workers", f"bitstrings not {width} bits wide: {wrong}")


@then(parsers.parse("the counts sum to {shots:d} shots"))
def _(outcome: TaskOutcome, shots: int) -> None:
    total = sum(_counts(outcome).values())
    require(total == shots, "workers", f"the counts sum to {total}, not {shots}")


@then("only the outcomes 00 and 11 are measured")
def _(outcome: TaskOutcome) -> None:
    unexpected = {k: v for k, v in _counts(outcome).items() if k not in ("00", "11") and v}
    require(not unexpected, "workers", f"a Bell pair measured {unexpected}")


@then("each outcome occurs in half of the shots within the statistical bound of a fair coin")
def _(outcome: TaskOutcome, environment: Environment) -> None:
    # Each shot is a fair coin between 00 and 11: the count of 00 is Binomial(n, 1/2), whose
    # standard deviation is sqrt(n)/2; allow `bell_sigma` of them (5 sigma: 1 in ~1.7 million).
    counts = _counts(outcome)
    shots = sum(counts.values())
    sigma = environment.thresholds.bell_sigma
    bound = sigma * math.sqrt(shots) / 2
    for bitstring in ("00", "11"):
        observed = counts.get(bitstring, 0)
        require(
            abs(observed - shots / 2) <= bound,
            "workers",
            f"{bitstring} occurred {observed} times in {shots} shots, more than "
            f"{sigma:g} sigma ({bound:.0f}) from {shots / 2:.0f}",
        )


@then(parsers.parse("its recorded history is {statuses}"))
async def _(submitted: SubmittedTask, statuses: str, database: DatabaseInspector) -> None:
    expected = [s.strip() for s in statuses.split(",")]
    recorded = [row.status for row in await database.fetch_history(submitted.task_id)]
    require(recorded == expected, "database", f"the recorded history is {recorded}, not {expected}")


@then("the recorded history is in chronological order")
async def _(submitted: SubmittedTask, database: DatabaseInspector) -> None:
    times = [row.transitioned_at for row in await database.fetch_history(submitted.task_id)]
    require(times == sorted(times), "database", f"history timestamps out of order: {times}")


@then("the API's view of the task equals the database's")
async def _(submitted: SubmittedTask, api: ApiClient, database: DatabaseInspector) -> None:
    response = await api.get_task(submitted.task_id)
    row = await database.fetch_task(submitted.task_id)
    require(row is not None, "database", f"task {submitted.task_id} is not in the database")
    assert row is not None
    stored = {
        "task_id": row.task_id,
        "status": row.current_status,
        "result": row.result,
        "shots": row.shots,
        "circuit": row.circuit,
        "qc": row.circuit,
        "error": row.error_message,
    }
    shown = response.body if isinstance(response.body, dict) else {}
    differences = [
        f"{name}: API {shown[name]!r} vs database {value!r}"
        for name, value in stored.items()
        if name in shown and shown[name] != value
    ]
    require("status" in shown, "api", "the API shows no status for the task")
    if row.current_status == "completed":
        require("result" in shown, "api", "the API shows no result for a completed task")
    if row.current_status == "failed":
        require(
            bool(shown.get("error") or shown.get("message")),
            "api",
            f"the API gives no reason for a failed task (the database says {row.error_message!r})",
        )
    require(not differences, "api", "; ".join(differences))
