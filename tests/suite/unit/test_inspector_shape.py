"""The database inspector reads the columns that exist, and the checks say what they could not.

A fake pool answers the catalogue query from a table of columns and, like PostgreSQL, refuses a
query naming a column that the table lacks (asyncpg's UndefinedColumnError), so a test fails
exactly where the real database would.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from qtask_verify.checks import views
from qtask_verify.clients import DatabaseInspector
from qtask_verify.errors import DeploymentFault

TASK_ID = str(uuid.uuid4())
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TIMESTAMP = "timestamp with time zone"
TASKS = {
    "task_id": "uuid",
    "circuit": "text",
    "shots": "integer",
    "current_status": "taskstatus",
    "submitted_at": TIMESTAMP,
    "started_at": TIMESTAMP,
    "completed_at": TIMESTAMP,
    "result": "jsonb",
    "error_message": "text",
}
HISTORY = {
    "id": "integer",
    "task_id": "uuid",
    "status": "taskstatus",
    "transitioned_at": TIMESTAMP,
    "notes": "text",
}
VALUES: dict[str, Any] = {
    "task_id": uuid.UUID(TASK_ID),
    "circuit": "OPENQASM 3.0;",
    "shots": 100,
    "current_status": "completed",
    "submitted_at": T0,
    "started_at": T0 + timedelta(seconds=1),
    "completed_at": T0 + timedelta(seconds=2),
    "result": '{"00": 50, "11": 50}',
    "error_message": None,
}
# Written out of time order on purpose: the id, not the clock, says the order of writing.
HISTORY_VALUES = [
    {"id": 2, "status": "processing", "transitioned_at": T0 + timedelta(seconds=1), "notes": None},
    {"id": 1, "status": "pending", "transitioned_at": T0 + timedelta(seconds=3), "notes": "n"},
]


def _names(select_list: str) -> list[str]:
    """The columns a select list names (``x``, ``x::text AS y``)."""
    return [re.split(r"::| ", item.strip())[0] for item in select_list.split(",")]


class FakePool:
    """Answers DatabaseInspector's queries about ``tasks`` and ``status_history``."""

    def __init__(self, tasks: dict[str, str], history: dict[str, str]) -> None:
        self.schema = {"tasks": tasks, "status_history": history}
        self.queries: list[str] = []

    def _refuse_unknown(self, table: str, names: list[str]) -> None:
        for name in names:
            if name not in self.schema[table]:
                raise asyncpg.exceptions.UndefinedColumnError(f'column "{name}" does not exist')

    async def fetch(self, query: str, *args: Any, **options: Any) -> list[dict[str, Any]]:
        self.queries.append(query)
        if "FROM pg_attribute" in query:
            columns = self.schema.get(args[0], {})
            return [{"attname": name, "type": kind} for name, kind in columns.items()]
        match = re.match(r"SELECT (.*) FROM (\w+) WHERE task_id = \$1(?: ORDER BY (.*))?$", query)
        assert match, query
        select_list, table, order = match.groups()
        self._refuse_unknown(table, _names(select_list) + _names(order or "task_id"))
        aliases = [re.split(r" AS ", item.strip())[-1] for item in select_list.split(",")]
        if table == "tasks":
            return [{alias: VALUES[alias] for alias in aliases}]
        rows = sorted(HISTORY_VALUES, key=lambda r: [r[c] for c in _names(order)]) if order else []
        return [{alias: row[alias] for alias in aliases} for row in rows]


def inspector(
    tasks: dict[str, str] = TASKS, history: dict[str, str] = HISTORY
) -> DatabaseInspector:
    return DatabaseInspector(FakePool(dict(tasks), dict(history)), 1.0)  # type: ignore[arg-type]


def without(columns: dict[str, str], *names: str) -> dict[str, str]:
    return {name: kind for name, kind in columns.items() if name not in names}


async def test_a_task_is_read_from_the_columns_that_exist() -> None:
    database = inspector(without(TASKS, "started_at", "result"))
    row = await database.fetch_task(TASK_ID)
    assert row is not None
    assert (row.current_status, row.circuit, row.shots) == ("completed", "OPENQASM 3.0;", 100)
    assert (row.started_at, row.result) == (None, None)
    assert row.missing == ("started_at", "result")
    assert row.lacks("circuit", "started_at") == ("started_at",)
    pool: FakePool = database._pool  # type: ignore[assignment]
    assert not any("started_at" in query for query in pool.queries)


async def test_a_complete_task_reads_every_contract_column() -> None:
    row = await inspector().fetch_task(TASK_ID)
    assert row is not None
    assert row.missing == ()
    assert row.result == {"00": 50, "11": 50}
    assert row.completed_at == T0 + timedelta(seconds=2)


async def test_a_task_without_its_status_column_is_a_database_finding() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await inspector(without(TASKS, "current_status")).fetch_task(TASK_ID)
    assert caught.value.component == "database"
    assert caught.value.diagnosis == (
        f"the table tasks has no column current_status, so task {TASK_ID} cannot be read "
        "(its columns: task_id, circuit, shots, submitted_at, started_at, completed_at, result, "
        "error_message)"
    )


async def test_a_missing_tasks_table_is_a_database_finding() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await inspector(tasks={}).fetch_task(TASK_ID)
    assert (
        caught.value.diagnosis
        == f"the database has no table tasks, so task {TASK_ID} cannot be read"
    )


async def test_history_follows_an_integer_id_and_reads_what_exists() -> None:
    rows = await inspector().fetch_history(TASK_ID)
    assert [row.status for row in rows] == ["pending", "processing"]
    rows = await inspector(history=without(HISTORY, "notes", "transitioned_at")).fetch_history(
        TASK_ID
    )
    assert [(row.status, row.transitioned_at, row.notes) for row in rows] == [
        ("pending", None, None),
        ("processing", None, None),
    ]


async def test_history_with_a_uuid_id_follows_the_clock() -> None:
    rows = await inspector(history={**HISTORY, "id": "uuid"}).fetch_history(TASK_ID)
    assert [row.status for row in rows] == ["processing", "pending"]


async def test_a_check_needing_a_missing_column_says_what_it_could_not_verify() -> None:
    database = inspector(without(TASKS, "shots"))
    with pytest.raises(DeploymentFault) as caught:
        await views.require_stored_as_submitted(database, TASK_ID, "OPENQASM 3.0;", 100)
    assert caught.value.component == "database"
    assert caught.value.diagnosis == (
        "could not verify the stored circuit and shots: the table tasks has no column shots"
    )
    database = inspector(history=without(HISTORY, "transitioned_at"))
    with pytest.raises(DeploymentFault) as caught:
        await views.require_history_in_order(database, TASK_ID)
    assert caught.value.diagnosis == (
        "could not verify the order of the recorded history: "
        "the table status_history has no column transitioned_at"
    )


async def test_history_written_out_of_time_order_is_quoted() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await views.require_history_in_order(inspector(), TASK_ID)
    assert caught.value.diagnosis == (
        "the history's timestamps are out of order (in the order written: "
        "pending at 2026-01-01T00:00:03.000000+00:00, "
        "processing at 2026-01-01T00:00:01.000000+00:00)"
    )
