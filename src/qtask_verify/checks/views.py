"""What the database holds of a task, and the API's view of it against the database's.

Another implementation may lack a contract column: the inspector then reads the others and names
the missing ones (``TaskRow.missing``), and a check that needs one fails saying what it could
not verify and why, naming the database, instead of stumbling on a driver error.

The contract does not require the API to show a task's timestamps, but where it shows one under a
column's name it must denote the instant stored there: ISO 8601, with an offset or without one,
which is read as UTC (the columns are instants, and UTC is what a time without a zone means in a
JSON API; a deployment that writes local time without saying so reports the wrong instant to
every client). They agree within 1 ms (the columns keep microseconds), or within the last digit
the API gives (an API that shows whole seconds is not asked for milliseconds).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

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
# The timestamps the API may show, named as the columns they must equal.
TIMESTAMPS = ("submitted_at", "started_at", "completed_at")
# The columns keep microseconds; the API's answer agrees with them to this much, or to its own
# last digit if it gives fewer.
TIME_TOLERANCE = timedelta(milliseconds=1)


def _utc(moment: datetime) -> datetime:
    """An instant in UTC; a time without a zone (also a column's) is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def clock_time(moment: datetime | None, beside: datetime | None = None) -> str:
    """'16:23:45.346' in UTC (with the date when ``beside`` falls on another day), or 'not set'."""
    if moment is None:
        return "not set"
    moment = _utc(moment)
    other_day = beside is not None and _utc(beside).date() != moment.date()
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if other_day else "%H:%M:%S.%f")[:-3]


class ApiTime(NamedTuple):
    """A time the API gave: the instant, the resolution it was given in, and whether it said
    its offset (without one it is read as UTC)."""

    moment: datetime
    resolution: timedelta
    zoned: bool


def api_time(value: Any) -> ApiTime | None:
    """An ISO 8601 time of the API; None if the value is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    clock = value.split("T")[-1] if "T" in value else value.split(" ")[-1]
    fraction = clock.partition(".")[2] or clock.partition(",")[2]
    digits = len(fraction) - len(fraction.lstrip("0123456789"))
    return ApiTime(_utc(moment), timedelta(seconds=10.0**-digits), moment.tzinfo is not None)


def timestamp_differences(task_id: str, shown: dict[str, Any], row: TaskRow) -> list[str]:
    """Each timestamp the API shows that does not denote the instant the database stores."""
    differences = []
    for name in TIMESTAMPS:
        if name not in shown:
            continue
        column: datetime | None = getattr(row, name)
        stored = _utc(column) if column is not None else None
        value = shown[name]
        parsed = api_time(value)
        if value is None:
            if stored is None:
                continue
            reported = "null"
        elif parsed is None:
            reported = f"{value!r}, which is not an ISO 8601 time,"
        elif stored is None or abs(parsed.moment - stored) > max(TIME_TOLERANCE, parsed.resolution):
            zone = "" if parsed.zoned else " (given without an offset, read as UTC)"
            reported = clock_time(parsed.moment, stored) + zone
        else:
            continue
        kept = clock_time(stored, parsed.moment if parsed else None) if stored else "has none"
        differences.append(
            f"the API reports {name} {reported} for task {task_id}, the database {kept}"
        )
    return differences


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
    """Every field the API shows equals the stored one, its timestamps the same instants; a
    finished task says how it ended."""
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
    columns = {_STORED_AS[name] for name in shown if name in _STORED_AS}
    unreadable = sorted((columns | (set(TIMESTAMPS) & set(shown))) & set(row.missing))
    require_readable(row, "the API's view of the task against the stored one", *unreadable)
    differences = [
        f"{name}: API {shown[name]!r} vs database {value!r}"
        for name, value in stored.items()
        if name in shown and shown[name] != value
    ] + timestamp_differences(task_id, shown, row)
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
