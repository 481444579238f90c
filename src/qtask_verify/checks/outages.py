"""A dependency outage seen from outside: reported by /health, submissions refused cleanly,
nothing half-done left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..clients import ApiClient, ApiResponse, DatabaseInspector
from ..config import Environment
from ..deployment.ledger import ScenarioTasks
from ..deployment.probes import describe_health, health_when, is_healthy, names_component
from ..errors import DeploymentFault, require

# Answers that refuse a submission cleanly during a dependency outage.
OUTAGE_STATUSES = frozenset({502, 503, 504})


async def require_outage_reported(
    api: ApiClient, component: str, environment: Environment
) -> ApiResponse:
    """/health answers 503 unhealthy naming ``component``, within the health limit each time."""
    limit_s = environment.thresholds.health_s

    def reports_it(response: ApiResponse | None) -> bool:
        return (
            response is not None
            and response.status_code == 503
            and response.field("status") == "unhealthy"
            and names_component(response, component)
        )

    response = await health_when(api, reports_it, environment.thresholds.outage_visible_s)
    if not reports_it(response):
        raise DeploymentFault(
            "api",
            f"with the {component} down, {describe_health(response)} (expected 503 unhealthy "
            f"naming the {component})",
        )
    assert response is not None
    if response.elapsed_ms > limit_s * 1000:
        raise DeploymentFault(
            "api",
            f"with the {component} down, /health took {response.elapsed_ms:.0f} ms "
            f"(limit {limit_s:g} s)",
        )
    return response


def require_clean_refusal(response: ApiResponse, component: str) -> None:
    """A submission during an outage: 502/503/504 with a JSON body, never a 500 or a trace."""
    clean = response.body is not None and "traceback" not in response.text.lower()
    if response.status_code in OUTAGE_STATUSES and clean:
        return
    raise DeploymentFault(
        "api",
        f"with the {component} down, a submission answered {response.status_code} "
        f"(expected 503 with a JSON error, no trace): {response.text[:200]}",
    )


@dataclass(frozen=True)
class Attempt:
    """One submission made during an outage: its marker, the answer, the task id if accepted."""

    marker: str
    response: ApiResponse | None
    task_id: str | None


async def submit_marked(tasks: ScenarioTasks, api: ApiClient, circuit: str, shots: int) -> Attempt:
    """POST a marked task whatever the answer (recorded in the ledger before it is sent)."""
    marker, sent = tasks.mark(circuit)
    try:
        response: ApiResponse | None = await api.post_task({"qc": sent, "shots": shots})
    except DeploymentFault:
        response = None
    task_id = response.field("task_id") if response is not None else None
    if response is not None and response.status_code == 200 and isinstance(task_id, str):
        tasks.created(marker, task_id)
        return Attempt(marker, response, task_id)
    return Attempt(marker, response, None)


async def submissions_during_outage(
    tasks: ScenarioTasks, api: ApiClient, circuit: str, shots: int, count: int
) -> list[Attempt]:
    """``count`` marked submissions, one after another, whatever each answer is."""
    return [await submit_marked(tasks, api, circuit, shots) for _ in range(count)]


def require_refused_cleanly(attempt: Attempt, component: str) -> None:
    """The submission got an answer, and it is a clean refusal."""
    require(attempt.response is not None, "api", f"with the {component} down, the API hung")
    assert attempt.response is not None
    require_clean_refusal(attempt.response, component)


def accepted_or_refused_cleanly(attempts: Sequence[Attempt], component: str) -> list[str]:
    """Every attempt was accepted or refused cleanly; the ids of the accepted ones."""
    for attempt in attempts:
        if attempt.task_id is None:
            require_refused_cleanly(attempt, component)
    return [attempt.task_id for attempt in attempts if attempt.task_id is not None]


async def require_no_rows_left(attempts: Sequence[Attempt], database: DatabaseInspector) -> None:
    """Submissions refused during the outage stored nothing."""
    markers = [attempt.marker for attempt in attempts if attempt.task_id is None]
    left = await database.task_ids_marked(markers)
    require(
        not left,
        "api",
        f"{len(left)} submission(s) refused during the outage were stored anyway ({left[:3]}): "
        "a client told its task failed may still see it run",
    )


async def require_healthy(api: ApiClient) -> None:
    response = await api.health()
    require(is_healthy(response), "api", f"after the recovery {describe_health(response)}")
