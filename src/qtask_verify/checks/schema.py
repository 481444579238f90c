"""The database's schema against the contract: revision, columns, keys, statuses, indexes."""

from __future__ import annotations

from collections.abc import Sequence

from ..clients import DatabaseInspector, ForeignKey
from ..config import Expectations
from ..errors import require


async def require_revision(database: DatabaseInspector, expected: str) -> None:
    revision = await database.alembic_revision()
    require(
        revision == expected,
        "database",
        f"the database is at migration revision {revision!r}, expected {expected!r}",
    )


async def require_columns(
    database: DatabaseInspector, table: str, table_rows: Sequence[Sequence[str]]
) -> None:
    """The table has each (column, type) of a ``| column | type |`` data table."""
    header, *rows = table_rows
    require(list(header) == ["column", "type"], "database", f"unexpected table header {header}")
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


async def require_primary_key(database: DatabaseInspector, table: str, column: str) -> None:
    key = await database.primary_key(table)
    require(key == (column,), "database", f"the primary key of {table} is {key}, not ({column})")


async def require_statuses(database: DatabaseInspector, expected: Expectations) -> None:
    labels = await database.enum_labels(expected.status_type)
    require(
        sorted(labels) == sorted(expected.task_statuses),
        "database",
        f"type {expected.status_type} has statuses {labels}, "
        f"expected {list(expected.task_statuses)}",
    )


async def require_indexes(database: DatabaseInspector, expected: Expectations) -> None:
    actual = await database.indexes()
    problems = []
    for name, index in expected.indexes.items():
        found = actual.get(name)
        if found is None:
            problems.append(f"index {name} is missing")
        elif found != (index.table, index.columns):
            problems.append(
                f"index {name} is on {found[0]}({', '.join(found[1])}), expected "
                f"{index.table}({', '.join(index.columns)})"
            )
    require(not problems, "database", "; ".join(problems))


async def history_foreign_key(database: DatabaseInspector, name: str) -> ForeignKey | None:
    keys = {key.name: key for key in await database.foreign_keys("status_history")}
    return keys.get(name)


async def require_history_foreign_key(database: DatabaseInspector, name: str) -> None:
    key = await history_foreign_key(database, name)
    require(key is not None, "database", f"foreign key {name} on status_history is missing")
    assert key is not None
    require(
        (key.columns, key.referenced_table, key.referenced_columns)
        == (("task_id",), "tasks", ("task_id",)),
        "database",
        f"{name} links {key.columns} to {key.referenced_table}{key.referenced_columns}, "
        "expected (task_id) to tasks(task_id)",
    )


async def require_history_cascade(database: DatabaseInspector, name: str) -> None:
    key = await history_foreign_key(database, name)
    on_delete = key.on_delete if key is not None else None
    require(
        on_delete == "CASCADE",
        "database",
        f"deleting a task does not delete its history ({name} ON DELETE {on_delete})",
    )
