"""The schema checks match by structure and say what they found next to what they expected.

A fake inspector stands in for the database: the reference schema, the variant's (other enum,
index and foreign key names, an integer history id, extra columns), and broken ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from qtask_verify.checks import schema
from qtask_verify.clients import ForeignKey
from qtask_verify.config import Expectations, IndexExpectation
from qtask_verify.errors import DeploymentFault

STATUSES = ("pending", "processing", "completed", "failed")
TIMESTAMP = "timestamp with time zone"

TASKS_ROWS = [
    ["column", "type"],
    ["task_id", "uuid"],
    ["circuit", "text"],
    ["shots", "integer"],
    ["current_status", schema.STATUS_TYPE],
    ["submitted_at", TIMESTAMP],
    ["started_at", TIMESTAMP],
    ["completed_at", TIMESTAMP],
    ["result", "jsonb"],
    ["error_message", "text"],
]
HISTORY_ROWS = [
    ["column", "type"],
    ["id", schema.KEY_TYPE],
    ["task_id", "uuid"],
    ["status", schema.STATUS_TYPE],
    ["transitioned_at", TIMESTAMP],
    ["notes", "text"],
]


@dataclass
class FakeSchema:
    """What DatabaseInspector's introspection methods answer, as plain data."""

    enums: dict[str, tuple[str, ...]]
    table_columns: dict[str, dict[str, str]]
    index_map: dict[str, tuple[str, tuple[str, ...]]]
    keys: list[ForeignKey] = field(default_factory=list)
    revision: str | None = "0002"

    async def enum_types(self) -> dict[str, tuple[str, ...]]:
        return dict(self.enums)

    async def enum_labels(self, type_name: str) -> list[str]:
        return list(self.enums.get(type_name, ()))

    async def columns(self, table: str) -> dict[str, str]:
        return dict(self.table_columns.get(table, {}))

    async def tables(self) -> list[str]:
        return sorted(self.table_columns)

    async def primary_key(self, table: str) -> tuple[str, ...]:
        return {"tasks": ("task_id",), "status_history": ("id",)}.get(table, ())

    async def indexes(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return dict(self.index_map)

    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        return list(self.keys) if table == "status_history" else []

    async def alembic_revision(self) -> str | None:
        return self.revision


def _tasks(status_type: str) -> dict[str, str]:
    return {
        "task_id": "uuid",
        "circuit": "text",
        "shots": "integer",
        "current_status": status_type,
        "submitted_at": TIMESTAMP,
        "started_at": TIMESTAMP,
        "completed_at": TIMESTAMP,
        "result": "jsonb",
        "error_message": "text",
    }


def _history(status_type: str, id_type: str) -> dict[str, str]:
    return {
        "id": id_type,
        "task_id": "uuid",
        "status": status_type,
        "transitioned_at": TIMESTAMP,
        "notes": "text",
    }


def reference() -> FakeSchema:
    return FakeSchema(
        enums={"task_status": STATUSES},
        table_columns={
            "tasks": _tasks("task_status"),
            "status_history": _history("task_status", "bigint"),
        },
        index_map={
            "tasks_pkey": ("tasks", ("task_id",)),
            "ix_tasks_current_status": ("tasks", ("current_status",)),
            "ix_tasks_submitted_at": ("tasks", ("submitted_at",)),
            "ix_status_history_task_id_transitioned_at": (
                "status_history",
                ("task_id", "transitioned_at"),
            ),
        },
        keys=[
            ForeignKey(
                "fk_status_history_task_id_tasks", ("task_id",), "tasks", ("task_id",), "CASCADE"
            )
        ],
    )


def variant() -> FakeSchema:
    tasks = {**_tasks("taskstatus"), "attempts": "integer", "priority": "smallint"}
    return FakeSchema(
        enums={"taskstatus": STATUSES, "mood": ("happy", "sad")},
        table_columns={"tasks": tasks, "status_history": _history("taskstatus", "integer")},
        index_map={
            "tasks_pkey": ("tasks", ("task_id",)),
            "idx_tasks_status": ("tasks", ("current_status",)),
            "idx_tasks_submitted": ("tasks", ("submitted_at",)),
            "idx_history_task_time": ("status_history", ("task_id", "transitioned_at")),
        },
        keys=[
            ForeignKey(
                "status_history_task_id_fkey", ("task_id",), "tasks", ("task_id",), "CASCADE"
            )
        ],
    )


async def _diagnosis(check: object) -> str:
    with pytest.raises(DeploymentFault) as caught:
        await check  # type: ignore[misc]
    assert caught.value.component == "database"
    return caught.value.diagnosis


@pytest.mark.parametrize("build", [reference, variant])
async def test_a_conforming_schema_passes_by_structure_whatever_its_names(build: object) -> None:
    database = build()  # type: ignore[operator]
    expected = Expectations()
    await schema.require_revision(database, "0002")
    await schema.require_columns(database, "tasks", TASKS_ROWS, expected)
    await schema.require_columns(database, "status_history", HISTORY_ROWS, expected)
    await schema.require_statuses(database, expected)
    await schema.require_indexes(database, expected)
    await schema.require_history_foreign_key(database, expected.history_foreign_key)
    await schema.require_history_cascade(database, expected.history_foreign_key)


async def test_a_uuid_history_key_is_allowed_and_a_text_one_is_not() -> None:
    database = variant()
    database.table_columns["status_history"]["id"] = "uuid"
    await schema.require_columns(database, "status_history", HISTORY_ROWS, Expectations())
    database.table_columns["status_history"]["id"] = "text"
    said = await _diagnosis(
        schema.require_columns(database, "status_history", HISTORY_ROWS, Expectations())
    )
    assert said == "table status_history: id is text, not an integer or uuid key"


async def test_a_missing_column_is_named_with_the_columns_there_are() -> None:
    database = reference()
    del database.table_columns["tasks"]["started_at"]
    said = await _diagnosis(schema.require_columns(database, "tasks", TASKS_ROWS, Expectations()))
    assert said.startswith("table tasks: no column started_at; its columns are task_id (uuid), ")
    assert "completed_at (timestamp with time zone)" in said


async def test_a_missing_table_names_the_tables_there_are() -> None:
    database = reference()
    del database.table_columns["status_history"]
    said = await _diagnosis(
        schema.require_columns(database, "status_history", HISTORY_ROWS, Expectations())
    )
    assert said == "the database has no table status_history; its tables are tasks"


async def test_the_history_status_must_have_the_type_of_the_task_status() -> None:
    database = variant()
    database.table_columns["status_history"]["status"] = "text"
    said = await _diagnosis(
        schema.require_columns(database, "status_history", HISTORY_ROWS, Expectations())
    )
    assert said == (
        "table status_history: status is text, not the task status type taskstatus "
        "(the type of tasks.current_status)"
    )


async def test_a_status_column_that_is_not_an_enum_is_named() -> None:
    database = reference()
    database.table_columns["tasks"]["current_status"] = "character varying(20)"
    said = await _diagnosis(schema.require_columns(database, "tasks", TASKS_ROWS, Expectations()))
    assert said == (
        "table tasks: current_status is character varying(20), "
        "not an enum type holding the task statuses"
    )
    said = await _diagnosis(schema.require_statuses(database, Expectations()))
    assert said == (
        "tasks.current_status is character varying(20), not an enum type; "
        "the four statuses are held by task_status"
    )


async def test_a_profile_naming_an_absent_enum_is_told_which_type_holds_the_statuses() -> None:
    expected = Expectations(status_type="task_status")
    said = await _diagnosis(schema.require_statuses(variant(), expected))
    assert (
        said == "the enum type task_status does not exist; the four statuses are held by taskstatus"
    )
    said = await _diagnosis(schema.require_columns(variant(), "tasks", TASKS_ROWS, expected))
    assert said == (
        "table tasks: current_status is taskstatus, not the task status type task_status "
        "(named by the profile), which does not exist"
    )


async def test_a_profile_naming_the_enum_that_exists_passes() -> None:
    await schema.require_statuses(variant(), Expectations(status_type="taskstatus"))
    await schema.require_columns(
        variant(), "tasks", TASKS_ROWS, Expectations(status_type="public.taskstatus")
    )


async def test_a_renamed_status_says_which_is_missing_and_which_is_extra() -> None:
    database = reference()
    database.enums["task_status"] = ("pending", "processing", "completed", "errored")
    said = await _diagnosis(schema.require_statuses(database, Expectations()))
    assert said == (
        "the task status type task_status (the type of tasks.current_status) holds "
        "pending, processing, completed, errored; expected pending, processing, completed, "
        "failed (missing: failed; not in the contract: errored)"
    )


async def test_an_index_on_other_columns_is_named_next_to_the_one_expected() -> None:
    database = variant()
    database.index_map["idx_tasks_status"] = ("tasks", ("status",))
    said = await _diagnosis(schema.require_indexes(database, Expectations()))
    assert said == (
        "no index on tasks(current_status); found: idx_tasks_status on tasks(status), "
        "idx_tasks_submitted on tasks(submitted_at), tasks_pkey on tasks(task_id)"
    )


async def test_a_missing_history_index_says_what_the_table_has() -> None:
    database = reference()
    del database.index_map["ix_status_history_task_id_transitioned_at"]
    said = await _diagnosis(schema.require_indexes(database, Expectations()))
    assert (
        said
        == "no index on status_history(task_id, transitioned_at); found: no index on status_history"
    )


async def test_an_index_name_is_checked_only_where_the_profile_gives_one() -> None:
    named = IndexExpectation(
        table="tasks", columns=("current_status",), name="ix_tasks_current_status"
    )
    expected = Expectations(indexes=(named,))
    await schema.require_indexes(reference(), expected)
    said = await _diagnosis(schema.require_indexes(variant(), expected))
    assert said == (
        "no index ix_tasks_current_status; the index on tasks(current_status) is called "
        "idx_tasks_status"
    )
    database = reference()
    database.index_map["ix_tasks_current_status"] = ("tasks", ("submitted_at",))
    said = await _diagnosis(schema.require_indexes(database, expected))
    assert said == (
        "the index ix_tasks_current_status is on tasks(submitted_at), "
        "expected on tasks(current_status)"
    )


def _key(name: str, columns: Sequence[str], table: str, on_delete: str = "CASCADE") -> ForeignKey:
    return ForeignKey(name, tuple(columns), table, ("task_id",), on_delete)


async def test_a_foreign_key_is_matched_by_columns_and_named_when_it_differs() -> None:
    await schema.require_history_foreign_key(variant(), None)
    said = await _diagnosis(
        schema.require_history_foreign_key(variant(), "fk_status_history_task_id_tasks")
    )
    assert said == (
        "no foreign key fk_status_history_task_id_tasks; the one from status_history(task_id) "
        "to tasks(task_id) is called status_history_task_id_fkey"
    )


async def test_a_missing_foreign_key_says_what_the_table_has() -> None:
    database = replace(variant(), keys=[_key("fk_other", ["task_id"], "archive")])
    said = await _diagnosis(schema.require_history_foreign_key(database, None))
    assert said == (
        "no foreign key from status_history(task_id) to tasks(task_id); "
        "found: fk_other from status_history(task_id) to archive(task_id)"
    )
    said = await _diagnosis(schema.require_history_cascade(replace(variant(), keys=[]), None))
    assert said == (
        "deleting a task cannot delete its history: no foreign key from status_history(task_id) "
        "to tasks(task_id); found: no foreign key on status_history"
    )


async def test_a_named_foreign_key_on_other_columns_says_what_it_links() -> None:
    database = replace(variant(), keys=[_key("fk_history", ["recorded_by"], "users")])
    said = await _diagnosis(schema.require_history_foreign_key(database, "fk_history"))
    assert said == (
        "the foreign key fk_history links status_history(recorded_by) to users(task_id), "
        "expected from status_history(task_id) to tasks(task_id)"
    )


async def test_a_foreign_key_without_cascade_names_its_rule() -> None:
    database = replace(
        variant(), keys=[_key("status_history_task_id_fkey", ["task_id"], "tasks", "NO ACTION")]
    )
    said = await _diagnosis(schema.require_history_cascade(database, None))
    assert said == (
        "deleting a task does not delete its history: the foreign key status_history_task_id_fkey "
        "from status_history(task_id) to tasks(task_id) is ON DELETE NO ACTION, not CASCADE"
    )


async def test_the_revision_and_primary_key_say_what_they_found() -> None:
    said = await _diagnosis(schema.require_revision(replace(reference(), revision=None), "0002"))
    assert said == (
        "the database has no Alembic revision (alembic_version is missing or empty), "
        "expected '0002'"
    )
    said = await _diagnosis(schema.require_primary_key(reference(), "status_history", "task_id"))
    assert said == "the table status_history is identified by (id), expected (task_id)"
