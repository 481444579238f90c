"""Steps of features/p2_schema.feature."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then
from qtask_verify.clients import DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.errors import require

scenarios("p2_schema.feature")


@then("the database is at the expected migration revision")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    revision = await database.alembic_revision()
    expected = environment.expectations.alembic_head
    require(
        revision == expected,
        "database",
        f"the database is at migration revision {revision!r}, expected {expected!r}",
    )


@then(parsers.parse('the table "{table}" has these columns:'))
async def _(table: str, datatable: list[list[str]], database: DatabaseInspector) -> None:
    header, *rows = datatable
    require(header == ["column", "type"], "database", f"unexpected table header {header}")
    actual = await database.columns(table)
    require(bool(actual), "database", f"table {table} does not exist")
    problems = [
        f"{column} is missing"
        if column not in actual
        else f"{column} is {actual[column]}, not {kind}"
        for column, kind in rows
        if actual.get(column) != kind
    ]
    require(not problems, "database", f"table {table}: " + "; ".join(problems))


@then(parsers.parse('the table "{table}" is identified by "{column}"'))
async def _(table: str, column: str, database: DatabaseInspector) -> None:
    key = await database.primary_key(table)
    require(key == (column,), "database", f"the primary key of {table} is {key}, not ({column})")


@then("the task status type has exactly the expected statuses")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    expected = list(environment.expectations.task_statuses)
    type_name = environment.expectations.status_type
    labels = await database.enum_labels(type_name)
    require(
        sorted(labels) == sorted(expected),
        "database",
        f"type {type_name} has statuses {labels}, expected {expected}",
    )


@then("every expected index exists on its table and columns")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    actual = await database.indexes()
    problems = []
    for name, expected in environment.expectations.indexes.items():
        found = actual.get(name)
        if found is None:
            problems.append(f"index {name} is missing")
        elif found != (expected.table, expected.columns):
            problems.append(
                f"index {name} is on {found[0]}({', '.join(found[1])}), expected "
                f"{expected.table}({', '.join(expected.columns)})"
            )
    require(not problems, "database", "; ".join(problems))


@then("status history entries are tied to their task by the expected foreign key")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    name = environment.expectations.history_foreign_key
    keys = {key.name: key for key in await database.foreign_keys("status_history")}
    key = keys.get(name)
    require(key is not None, "database", f"foreign key {name} on status_history is missing")
    assert key is not None
    require(
        (key.columns, key.referenced_table, key.referenced_columns)
        == (("task_id",), "tasks", ("task_id",)),
        "database",
        f"{name} links {key.columns} to {key.referenced_table}{key.referenced_columns}, "
        "expected (task_id) to tasks(task_id)",
    )


@then("a task's status history is deleted together with the task")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    name = environment.expectations.history_foreign_key
    keys = {key.name: key for key in await database.foreign_keys("status_history")}
    on_delete = keys[name].on_delete if name in keys else None
    require(
        on_delete == "CASCADE",
        "database",
        f"deleting a task does not delete its history ({name} ON DELETE {on_delete})",
    )
