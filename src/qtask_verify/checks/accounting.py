"""Whether the database's record of a finished task tells one consistent story.

A task that ended must say how (completed or failed), when it was submitted, started and ended,
in that order, and its history must end where the task is, with its transitions inside that
span. A deployment that loses the `completed_at` of every task, or writes `completed` into the
history of a task that failed, still answers the API correctly; only its record shows it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta

from ..clients import ApiClient, BrokerInspector, DatabaseInspector, HistoryRow, TaskRow
from ..config import Environment
from ..errors import DeploymentFault
from .consumers import ConsumerWatch
from .tasks import wait_for_all
from .views import TIMESTAMPS, clock_time, require_readable, stored_task

FINISHED = ("completed", "failed")
# Timestamps written by the application and by the database may come from two clocks.
CLOCK_SKEW = timedelta(seconds=1)


def record_problems(row: TaskRow, history: Sequence[HistoryRow]) -> list[str]:
    """What is inconsistent in a finished task's record (empty: nothing)."""
    problems = []
    if row.current_status not in FINISHED:
        problems.append(f"it is {row.current_status}, not completed or failed")
    times = {name: getattr(row, name) for name in TIMESTAMPS}
    unset = [name for name, moment in times.items() if moment is None]
    if unset:
        problems.append(f"{', '.join(unset)} not set")
    ordered = [(name, moment) for name, moment in times.items() if moment is not None]
    for (earlier, first), (later, second) in itertools.pairwise(ordered):
        if first > second:
            problems.append(
                f"{earlier} {clock_time(first)} is later than {later} {clock_time(second)}"
            )
    statuses = [entry.status for entry in history]
    if statuses and statuses[-1] != row.current_status:
        problems.append(f"its history ends with {statuses[-1]} but it is {row.current_status}")
    start, end = times["submitted_at"], times["completed_at"]
    if start is not None and end is not None:
        outside = [
            f"{entry.status} at {clock_time(entry.transitioned_at)}"
            for entry in history
            if entry.transitioned_at is not None
            and not start - CLOCK_SKEW <= entry.transitioned_at <= end + CLOCK_SKEW
        ]
        if outside:
            span = f"{clock_time(start)} to {clock_time(end)}"
            problems.append(f"history rows outside its span {span}: {', '.join(outside)}")
    return problems


async def require_consistent_records(database: DatabaseInspector, task_ids: Sequence[str]) -> None:
    """Every one of the tasks ended with a consistent record; all of them judged, then one
    diagnosis names each task that is not."""
    findings = []
    for task_id in task_ids:
        row = await stored_task(database, task_id)
        require_readable(row, "the task's timestamps", *TIMESTAMPS)
        problems = record_problems(row, await database.fetch_history(task_id))
        if problems:
            findings.append(f"task {task_id}: {'; '.join(problems)}")
    if findings:
        many = (
            f"{len(findings)} of {len(task_ids)} tasks have"
            if len(task_ids) > 1
            else "the task has"
        )
        raise DeploymentFault(
            "database", f"{many} an inconsistent record: {' | '.join(findings[:3])}"
        )


async def require_all_accounted(
    task_ids: Sequence[str],
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    database: DatabaseInspector,
    watch: ConsumerWatch,
) -> None:
    """Every task a scenario created ended (completed or failed) within the processing time
    limit, each with a consistent record: the tasks only timed for latency included."""
    limit = environment.thresholds.processing_s
    await wait_for_all(task_ids, api, broker, environment, limit, "of being submitted", watch)
    await require_consistent_records(database, task_ids)
