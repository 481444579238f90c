"""What the database holds of a task, and the API's view of it against the database's.

Another implementation may lack a contract column: the inspector then reads the others and names
the missing ones (``TaskRow.missing``), and a check that needs one fails saying what it could
not verify and why, naming the database, instead of stumbling on a driver error.
"""

from __future__ import annotations

from typing import Any

from ..clients import ApiClient, DatabaseInspector, TaskRow
from ..errors import require

# The fields of the API's answer, and the column each is stored in.
_STORED_AS = {
    "task_id": "task_id",
    "status": "current_status",
    "result": "result",
    "shots": "shots",
    "circuit": "circuit",
    "qc": "circuit",
    "error": "error_message",
}


def require_readable(row: TaskRow, what: str, *columns: str) -> None:
    """Fail, naming the database, if the tasks table lacks a column needed to verify ``what``."""
    lacking = row.lacks(*columns)
    require(
        not lacking,
        "database",
        f"could not verify {what}: the table tasks has no column {', '.join(lacking)}",
    )


async def stored_task(database: DatabaseInspector, task_id: str) -> TaskRow:
    """The task's row; a task missing from the database is a DeploymentFault(database)."""
    row = await database.fetch_task(task_id)
    require(row is not None, "database", f"task {task_id} is not in the database")
    assert row is not None
    return row


async def require_stored_as_submitted(
    database: DatabaseInspector, task_id: str, circuit: str, shots: int
) -> None:
    """The database holds the task with exactly the circuit and shots submitted."""
    row = await stored_task(database, task_id)
    require_readable(row, "the stored circuit and shots", "circuit", "shots")
    require(row.circuit == circuit, "database", "the stored circuit differs from the one submitted")
    require(
        row.shots == shots, "database", f"the task is stored with {row.shots} shots, not {shots}"
    )


async def require_history_in_order(database: DatabaseInspector, task_id: str) -> None:
    """The task's history rows were written in chronological order."""
    history = await database.fetch_history(task_id)
    times = [row.transitioned_at for row in history if row.transitioned_at is not None]
    require(
        len(times) == len(history),
        "database",
        "could not verify the order of the recorded history: "
        "the table status_history has no column transitioned_at",
    )
    written = ", ".join(
        f"{row.status} at {row.transitioned_at.isoformat(timespec='microseconds')}"
        for row in history
        if row.transitioned_at is not None
    )
    require(
        times == sorted(times),
        "database",
        f"the history's timestamps are out of order (in the order written: {written})",
    )


async def require_api_matches_database(
    task_id: str, api: ApiClient, database: DatabaseInspector
) -> None:
    """Every field the API shows equals the stored one; a finished task says how it ended."""
    response = await api.get_task(task_id)
    row = await stored_task(database, task_id)
    stored: dict[str, Any] = {
        "task_id": row.task_id,
        "status": row.current_status,
        "result": row.result,
        "shots": row.shots,
        "circuit": row.circuit,
        "qc": row.circuit,
        "error": row.error_message,
    }
    shown = response.body if isinstance(response.body, dict) else {}
    unreadable = sorted(
        {_STORED_AS[name] for name in shown if name in _STORED_AS} & set(row.missing)
    )
    require_readable(row, "the API's view of the task against the stored one", *unreadable)
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
