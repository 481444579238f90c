"""The API's view of a task against the database's: both must tell the same story."""

from __future__ import annotations

from typing import Any

from ..clients import ApiClient, DatabaseInspector
from ..errors import require


async def require_api_matches_database(
    task_id: str, api: ApiClient, database: DatabaseInspector
) -> None:
    """Every field the API shows equals the stored one; a finished task says how it ended."""
    response = await api.get_task(task_id)
    row = await database.fetch_task(task_id)
    require(row is not None, "database", f"task {task_id} is not in the database")
    assert row is not None
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
