"""Older clients: the contract accepts `circuit` as an older name of `qc`, so a task sent under
that name must be stored and run like any other."""

from __future__ import annotations

from dataclasses import dataclass

from ..clients import ApiClient, ApiResponse, BrokerInspector, Submission
from ..config import Environment
from ..deployment.ledger import ScenarioTasks, SubmittedTask
from ..errors import require
from .consumers import ConsumerWatch
from .tasks import wait_for_task

OLDER_FIELD = "circuit"


@dataclass(frozen=True)
class OlderSubmission:
    """A task sent under the older field name: the exact circuit sent, the shots, the answer."""

    circuit: str
    shots: int
    response: ApiResponse


async def submit_under_older_name(
    tasks: ScenarioTasks, api: ApiClient, circuit: str, shots: int
) -> OlderSubmission:
    """Send the circuit as `circuit` instead of `qc`, marked and recorded like every submission
    of the suite, so the task is deleted afterwards whatever the answer."""
    marker, sent = tasks.mark(circuit)
    response = await api.post_task({OLDER_FIELD: sent, "shots": shots})
    task_id = response.field("task_id")
    if response.status_code == 200 and isinstance(task_id, str):
        tasks.created(marker, task_id)
    return OlderSubmission(sent, shots, response)


def require_accepted(submission: OlderSubmission) -> SubmittedTask:
    """The API answered 200 with a task id, as it does for `qc`."""
    response = submission.response
    task_id = response.field("task_id")
    require(
        response.status_code == 200 and isinstance(task_id, str),
        "api",
        f"a task whose circuit was sent under the older field name {OLDER_FIELD} (an alias of qc "
        f"the contract accepts) was answered {response.status_code}, not 200 with a task id: "
        f"{response.text[:200]}",
    )
    return SubmittedTask(submission.circuit, submission.shots, Submission(task_id, response))


async def require_completes(
    task: SubmittedTask,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
) -> None:
    """The task completes within the processing time limit (a wait that fails says why)."""
    limit_s = environment.thresholds.processing_s
    state = (await wait_for_task(task.task_id, api, broker, environment, watch, limit_s)).state
    error = f": {state.error}" if state.error else ""
    require(
        state.status == "completed",
        "workers",
        f"the task sent under the older field name {OLDER_FIELD} ended {state.status}{error}",
    )
