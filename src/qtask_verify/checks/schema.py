"""The database's schema against the contract: revision, columns, keys, statuses, indexes.

Only what the contract fixes is enforced. What it leaves open is matched by structure: an index
by its table and columns, the foreign key of the history by the columns it links, the enum of
the statuses as the type of ``tasks.current_status``; a name is checked only where the profile
gives one. Every diagnosis says what was found next to what was expected, in the deployment's
own names, so that a difference can be told from a violation without querying the catalogue.

The column tables of ``features/p2_schema.feature`` hold PostgreSQL type names, or words for the
types that the contract leaves to the implementation (see :data:`TYPE_WORDS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..clients import DatabaseInspector, ForeignKey
from ..config import Expectations, IndexExpectation
from ..errors import require

# Words of the feature's column tables for types the contract does not name.
STATUS_TYPE = "the task status type"  # the enum holding the task statuses, whatever its name
KEY_TYPE = "an integer or uuid key"  # status_history.id: the contract leaves its type open
KEY_TYPES = ("smallint", "integer", "bigint", "uuid")
TYPE_WORDS = (STATUS_TYPE, KEY_TYPE)

# The history's foreign key: status_history(task_id) -> tasks(task_id).
HISTORY_TABLE = "status_history"
HISTORY_LINK = (("task_id",), "tasks", ("task_id",))
_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _list(names: Sequence[str]) -> str:
    return ", ".join(names)


def _same_type(found: str, expected: str) -> bool:
    """Type names as ``format_type`` writes them; a profile may add or omit the schema."""
    return found == expected or found.rsplit(".", 1)[-1] == expected.rsplit(".", 1)[-1]


def _statuses(expected: Expectations) -> str:
    count = len(expected.task_statuses)
    return f"the {_NUMBERS.get(count, str(count))} statuses"


# --- revision ---------------------------------------------------------------------------------


async def require_revision(database: DatabaseInspector, expected: str) -> None:
    revision = await database.alembic_revision()
    found = (
        "has no Alembic revision (alembic_version is missing or empty)"
        if revision is None
        else f"is at migration revision {revision!r}"
    )
    require(revision == expected, "database", f"the database {found}, expected {expected!r}")


# --- the enum of the statuses -----------------------------------------------------------------


@dataclass(frozen=True)
class StatusType:
    """The enum type holding the task statuses, as found in the database.

    ``name`` is None when none could be settled on, and ``problem`` then says why, naming what
    exists instead; ``found_as`` says how it was found (named by the profile, or by structure).
    """

    name: str | None
    labels: tuple[str, ...]
    found_as: str
    problem: str | None = None
    named: str | None = None  # the profile's name for it, if it gives one


def status_type_of(
    enums: Mapping[str, Sequence[str]], current_status: str | None, expected: Expectations
) -> StatusType:
    """Settle on the status type from the enums and the type of ``tasks.current_status``.

    A profile's ``status_type`` is looked up by name; otherwise the type of
    ``tasks.current_status`` is taken when it is an enum, or, without that column, the one enum
    holding the expected statuses.
    """
    wanted = sorted(expected.task_statuses)
    holders = [name for name, labels in enums.items() if sorted(labels) == wanted]
    held_by = f"{_statuses(expected)} are held by {_list(holders)}" if holders else ""
    if expected.status_type is not None:
        named = expected.status_type
        found = next((name for name in enums if _same_type(name, named)), None)
        if found is None:
            elsewhere = held_by or (
                f"the enum types are {_list(list(enums))}" if enums else "there is no enum type"
            )
            problem = f"the enum type {named} does not exist; {elsewhere}"
            return StatusType(None, (), "named by the profile", problem, named)
        return StatusType(found, tuple(enums[found]), "named by the profile", named=named)
    if current_status is not None:
        found = next((name for name in enums if _same_type(name, current_status)), None)
        if found is not None:
            return StatusType(found, tuple(enums[found]), "the type of tasks.current_status")
        problem = f"tasks.current_status is {current_status}, not an enum type"
        return StatusType(None, (), "the type of tasks.current_status", _join(problem, held_by))
    if len(holders) == 1:
        return StatusType(
            holders[0], tuple(enums[holders[0]]), f"the enum of {_statuses(expected)}"
        )
    problem = "the table tasks has no column current_status to take the status type from"
    return StatusType(
        None,
        (),
        "the type of tasks.current_status",
        _join(problem, held_by or "no enum holds them"),
    )


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if second else first


async def find_status_type(database: DatabaseInspector, expected: Expectations) -> StatusType:
    """The enum holding the task statuses: by the profile's name, else by structure."""
    enums = await database.enum_types()
    current = (await database.columns("tasks")).get("current_status")
    return status_type_of(enums, current, expected)


def statuses_problem(status_type: StatusType, expected: Expectations) -> str | None:
    """Why the status type is not the contract's (what it holds against what is expected)."""
    if status_type.problem is not None or status_type.name is None:
        return status_type.problem
    labels, wanted = list(status_type.labels), list(expected.task_statuses)
    if sorted(labels) == sorted(wanted):
        return None
    missing = [label for label in wanted if label not in labels]
    extra = [label for label in labels if label not in wanted]
    found = _list(labels) if labels else "no status"
    differences = [f"missing: {_list(missing)}"] if missing else []
    differences += [f"not in the contract: {_list(extra)}"] if extra else []
    return (
        f"the task status type {status_type.name} ({status_type.found_as}) holds {found}; "
        f"expected {_list(wanted)} ({'; '.join(differences) or 'each once'})"
    )


async def require_statuses(database: DatabaseInspector, expected: Expectations) -> None:
    status_type = await find_status_type(database, expected)
    problem = statuses_problem(status_type, expected)
    require(problem is None, "database", problem or "")


# --- columns and keys -------------------------------------------------------------------------


def column_problem(
    column: str, found: str, kind: str, status_type: StatusType | None
) -> str | None:
    """Why ``column``, of type ``found``, is not of the type the feature's words ``kind`` ask."""
    if kind == KEY_TYPE:
        return None if found in KEY_TYPES else f"{column} is {found}, not {KEY_TYPE}"
    if kind == STATUS_TYPE:
        assert status_type is not None
        if status_type.name is None and status_type.named is not None:
            return (
                f"{column} is {found}, not the task status type {status_type.named} "
                "(named by the profile), which does not exist"
            )
        if status_type.name is None:
            return f"{column} is {found}, not an enum type holding the task statuses"
        if _same_type(found, status_type.name):
            return None
        return (
            f"{column} is {found}, not the task status type {status_type.name} "
            f"({status_type.found_as})"
        )
    return None if found == kind else f"{column} is {found}, not {kind}"


async def require_columns(
    database: DatabaseInspector,
    table: str,
    table_rows: Sequence[Sequence[str]],
    expected: Expectations | None = None,
) -> None:
    """The table has each (column, type) of a ``| column | type |`` data table.

    A type is a PostgreSQL type name or one of :data:`TYPE_WORDS`; extra columns are allowed.
    """
    header, *rows = table_rows
    require(list(header) == ["column", "type"], "database", f"unexpected table header {header}")
    actual = await database.columns(table)
    if not actual:
        tables = await database.tables()
        found = f"its tables are {_list(tables)}" if tables else "it has no table"
        require(False, "database", f"the database has no table {table}; {found}")
    status_type = None
    if any(kind == STATUS_TYPE for _, kind in rows):
        status_type = await find_status_type(database, expected or Expectations())
    missing = [column for column, _ in rows if column not in actual]
    problems = [f"no column {_list(missing)}"] if missing else []
    problems += [
        problem
        for column, kind in rows
        if column in actual
        and (problem := column_problem(column, actual[column], kind, status_type))
    ]
    found = _list([f"{name} ({kind})" for name, kind in actual.items()])
    listing = f"; its columns are {found}" if missing else ""
    require(not problems, "database", f"table {table}: " + "; ".join(problems) + listing)


async def require_primary_key(database: DatabaseInspector, table: str, column: str) -> None:
    key = await database.primary_key(table)
    found = f"is identified by ({_list(key)})" if key else "has no primary key"
    require(key == (column,), "database", f"the table {table} {found}, expected ({column})")


# --- indexes ----------------------------------------------------------------------------------


def _index(name: str, table: str, columns: Sequence[str]) -> str:
    return f"{name} on {table}({_list(columns)})"


def index_problem(
    index: IndexExpectation, found: Mapping[str, tuple[str, tuple[str, ...]]]
) -> str | None:
    """Why ``index`` is not among ``found`` (index name -> (table, columns)), naming what is."""
    wanted = (index.table, tuple(index.columns))
    where = f"{index.table}({_list(index.columns)})"
    matching = sorted(name for name, on in found.items() if on == wanted)
    if index.name is not None:
        named = found.get(index.name)
        if named == wanted:
            return None
        if named is not None:
            return (
                f"the index {index.name} is on {named[0]}({_list(named[1])}), expected on {where}"
            )
        if matching:
            return f"no index {index.name}; the index on {where} is called {_list(matching)}"
    elif matching:
        return None
    on_table = sorted(
        _index(name, table, columns)
        for name, (table, columns) in found.items()
        if table == index.table
    )
    seen = _list(on_table) if on_table else f"no index on {index.table}"
    called = f" {index.name}" if index.name is not None else ""
    return f"no index{called} on {where}; found: {seen}"


async def require_indexes(database: DatabaseInspector, expected: Expectations) -> None:
    """Each expected index exists on its table and columns (and under its name, if given)."""
    found = await database.indexes()
    problems = [p for index in expected.indexes if (p := index_problem(index, found)) is not None]
    require(not problems, "database", "; ".join(problems))


# --- the history's foreign key ----------------------------------------------------------------


def _links(key: ForeignKey) -> bool:
    return (key.columns, key.referenced_table, key.referenced_columns) == HISTORY_LINK


def _key(key: ForeignKey) -> str:
    return (
        f"{key.name} from {HISTORY_TABLE}({_list(key.columns)}) to "
        f"{key.referenced_table}({_list(key.referenced_columns)})"
    )


_LINK = "from status_history(task_id) to tasks(task_id)"


def history_key_of(keys: Sequence[ForeignKey], name: str | None) -> ForeignKey | None:
    """The history's foreign key among ``keys``: by ``name`` if given, else by its columns."""
    if name is not None:
        return next((key for key in keys if key.name == name), None)
    return next((key for key in keys if _links(key)), None)


def history_key_problem(keys: Sequence[ForeignKey], name: str | None) -> str | None:
    """Why ``keys`` (status_history's) hold no foreign key as expected, naming what they hold."""
    key = history_key_of(keys, name)
    if key is not None:
        if _links(key):
            return None
        return (
            f"the foreign key {key.name} links status_history({_list(key.columns)}) to "
            f"{key.referenced_table}({_list(key.referenced_columns)}), expected {_LINK}"
        )
    seen = _list([_key(k) for k in keys]) if keys else "no foreign key on status_history"
    if name is None:
        return f"no foreign key {_LINK}; found: {seen}"
    linking = [k.name for k in keys if _links(k)]
    if linking:
        return f"no foreign key {name}; the one {_LINK} is called {_list(linking)}"
    return f"no foreign key {name} {_LINK}; found: {seen}"


async def history_foreign_key(database: DatabaseInspector, name: str | None) -> ForeignKey | None:
    """status_history's foreign key to tasks: the one called ``name``, else the one linking
    (task_id) to tasks(task_id)."""
    return history_key_of(await database.foreign_keys(HISTORY_TABLE), name)


async def require_history_foreign_key(database: DatabaseInspector, name: str | None) -> None:
    problem = history_key_problem(await database.foreign_keys(HISTORY_TABLE), name)
    require(problem is None, "database", problem or "")


async def require_history_cascade(database: DatabaseInspector, name: str | None) -> None:
    keys = await database.foreign_keys(HISTORY_TABLE)
    key = history_key_of(keys, name)
    if key is None:
        problem = history_key_problem(keys, name)
        require(False, "database", f"deleting a task cannot delete its history: {problem}")
    assert key is not None
    require(
        key.on_delete == "CASCADE",
        "database",
        f"deleting a task does not delete its history: the foreign key {_key(key)} is "
        f"ON DELETE {key.on_delete}, not CASCADE",
    )
