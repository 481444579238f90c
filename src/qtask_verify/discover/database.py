"""The database as `discover` reads it: revision, columns and types, the status enum, the
contract's indexes and the history's foreign key, each found by structure, never by name.
"""

from __future__ import annotations

import asyncio

from ..clients import DatabaseInspector, ForeignKey
from . import contract
from .findings import Assessment, DraftIndex, Finding, Reading, some
from .findings import Draft as DraftValues

_INDEX_KEY = "indexes"


async def read_database(database: DatabaseInspector, statuses: tuple[str, ...]) -> Reading:
    """Everything the schema scenarios look at, read at the same time."""
    revision, tasks, history, indexes = await asyncio.gather(
        database.alembic_revision(),
        database.columns("tasks"),
        database.columns("status_history"),
        database.indexes(),
    )
    task_key, history_key, foreign_keys = await asyncio.gather(
        database.primary_key("tasks"),
        database.primary_key("status_history"),
        database.foreign_keys("status_history"),
    )
    status_type = tasks.get("current_status")
    labels = await database.enum_labels(status_type) if status_type else []
    findings = [_revision(revision)]
    status_finding, adopted_type = _status_type(status_type, labels, statuses)
    findings.append(status_finding)
    columns = {"tasks": tasks, "status_history": history}
    keys = {"tasks": task_key, "status_history": history_key}
    for table in contract.TABLES:
        findings += _table(table, columns[table], keys[table], status_type)
    index_findings, draft_indexes = _indexes(indexes)
    findings += index_findings
    key_finding, cascade, foreign_key = _history_foreign_key(foreign_keys)
    findings += [key_finding, cascade]
    draft = DraftValues(
        alembic_head=revision,
        status_type=adopted_type,
        history_foreign_key=foreign_key.name if foreign_key else None,
        indexes=draft_indexes,
    )
    return Reading(tuple(findings), draft)


def _row(item: str, expected: str, found: str, assessment: Assessment, why: str = "") -> Finding:
    return Finding("database", item, expected, found, assessment, why)


def _allowed_or_same(name: str, reference: str, key: str) -> tuple[Assessment, str]:
    if name == reference:
        return Assessment.AS_CONTRACT, f"{key} = {name!r}"
    return Assessment.ALLOWED, f"{key} = {name!r}"


def _revision(revision: str | None) -> Finding:
    item, reference = "Alembic head", contract.REFERENCE_NAMES["alembic_head"]
    expected = f"the head in alembic_version ({reference})"
    if revision is None:
        why = "no alembic_version table, or it is empty: the schema is not managed by Alembic"
        return _row(item, expected, "none", Assessment.VIOLATION, why)
    assessment, why = _allowed_or_same(revision, reference, "alembic_head")
    return _row(item, expected, revision, assessment, why)


def _status_type(
    type_name: str | None, labels: list[str], statuses: tuple[str, ...]
) -> tuple[Finding, str | None]:
    """The type of tasks.current_status; its name is adopted when it is an enum at all."""
    item = "status enum"
    reference = contract.REFERENCE_NAMES["status_type"]
    expected = f"enum of the {len(statuses)} statuses ({reference})"
    if type_name is None:
        why = "no tasks.current_status column to hold the statuses"
        return _row(item, expected, "none", Assessment.VIOLATION, why), None
    if not labels:
        why = f"tasks.current_status is {type_name}, not an enum"
        return _row(item, expected, type_name, Assessment.VIOLATION, why), None
    found = f"{type_name}: {', '.join(labels)}"
    missing = [s for s in statuses if s not in labels]
    extra = [label for label in labels if label not in statuses]
    if missing or extra:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"extra {', '.join(extra)}"] if extra else []
        why = "; ".join(problems)
        finding = _row(item, expected, found, Assessment.VIOLATION, why)
        return finding, type_name
    assessment, why = _allowed_or_same(type_name, reference, "status_type")
    return _row(item, expected, found, assessment, why), type_name


def _table(
    table: str, found: dict[str, str], key: tuple[str, ...], status_type: str | None
) -> list[Finding]:
    """One row per contract column that differs, one for the rest, extras and the key."""
    shape = contract.TABLES[table]
    if not found:
        why = f"table {table} does not exist"
        expected = f"{len(shape)} columns"
        return [_row(table, expected, "missing", Assessment.VIOLATION, why)]
    rows: list[Finding] = []
    same: list[str] = []
    for column, kind in shape.items():
        actual = found.get(column)
        item = f"{table}.{column}"
        shown = {contract.STATUS_TYPE: "the status enum", contract.ANY_TYPE: "integer or uuid"}
        expected = shown.get(kind, kind)
        if actual is None:
            why = f"contract column {column} is missing"
            rows.append(_row(item, expected, "missing", Assessment.VIOLATION, why))
        elif kind == contract.STATUS_TYPE and actual != status_type:
            why = f"not the type of tasks.current_status ({status_type})"
            rows.append(_row(item, expected, actual, Assessment.VIOLATION, why))
        elif kind == contract.ANY_TYPE and actual not in contract.KEY_TYPES:
            why = f"{column} must be an integer or a uuid"
            rows.append(_row(item, expected, actual, Assessment.VIOLATION, why))
        elif kind == contract.ANY_TYPE and actual != contract.REFERENCE_HISTORY_ID_TYPE:
            why = "the contract leaves its type open"
            rows.append(_row(item, expected, actual, Assessment.ALLOWED, why))
        elif kind not in (contract.STATUS_TYPE, contract.ANY_TYPE) and actual != kind:
            why = f"{column} must be {kind}"
            rows.append(_row(item, expected, actual, Assessment.VIOLATION, why))
        else:
            same.append(column)
    if same:
        found_types = f"{len(same)} of {len(shape)} contract columns with their types"
        columns = _row(
            f"{table} columns", f"{len(shape)} columns", found_types, Assessment.AS_CONTRACT
        )
        rows.insert(0, columns)
    extra = [column for column in found if column not in shape]
    if extra:
        why = "extra columns are open"
        rows.append(
            _row(f"{table} extra columns", "(open)", ", ".join(extra), Assessment.ALLOWED, why)
        )
    expected_key = contract.PRIMARY_KEYS[table]
    item, expected = f"{table} primary key", f"({', '.join(expected_key)})"
    if key != expected_key:
        found_key = f"({', '.join(key)})" if key else "none"
        rows.append(_row(item, expected, found_key, Assessment.VIOLATION, "wrong key"))
    return rows


def _indexes(
    indexes: dict[str, tuple[str, tuple[str, ...]]],
) -> tuple[list[Finding], tuple[DraftIndex, ...]]:
    """Each contract index matched by its table and columns; its name is adopted."""
    rows: list[Finding] = []
    draft: list[DraftIndex] = []
    for shape in contract.INDEXES:
        names = sorted(n for n, found in indexes.items() if found == (shape.table, shape.columns))
        item, expected = f"index {shape.shown}", shape.reference_name
        if not names:
            on_table = [
                f"{n} on {t}({', '.join(c)})"
                for n, (t, c) in sorted(indexes.items())
                if t == shape.table
            ]
            found = "none; " + (some(on_table) if on_table else f"no index on {shape.table}")
            why = f"no index on exactly {shape.shown}"
            rows.append(_row(item, expected, found, Assessment.VIOLATION, why))
            draft.append(DraftIndex(shape.table, shape.columns, None))
            continue
        name = shape.reference_name if shape.reference_name in names else names[0]
        assessment, why = _allowed_or_same(name, shape.reference_name, "name")
        found = name + (
            f" (also {', '.join(n for n in names if n != name)})" if len(names) > 1 else ""
        )
        rows.append(_row(item, expected, found, assessment, f"{_INDEX_KEY}: {why}"))
        draft.append(DraftIndex(shape.table, shape.columns, name))
    return rows, tuple(draft)


def _history_foreign_key(keys: list[ForeignKey]) -> tuple[Finding, Finding, ForeignKey | None]:
    """The foreign key status_history(task_id) -> tasks(task_id), and its ON DELETE CASCADE."""
    reference = contract.REFERENCE_NAMES["history_foreign_key"]
    item = "history foreign key"
    expected = f"(task_id) -> tasks(task_id) ({reference})"
    matching = [
        k
        for k in keys
        if (k.columns, k.referenced_table, k.referenced_columns)
        == (("task_id",), "tasks", ("task_id",))
    ]
    cascade_item, cascade_expected = "history ON DELETE", "CASCADE (history goes with its task)"
    if not matching:
        others = ", ".join(f"{k.name} {k.columns} -> {k.referenced_table}" for k in keys) or "none"
        why = "status_history(task_id) does not reference tasks(task_id)"
        return (
            _row(item, expected, others, Assessment.VIOLATION, why),
            _row(cascade_item, cascade_expected, "none", Assessment.VIOLATION, "no foreign key"),
            None,
        )
    key = next((k for k in matching if k.name == reference), matching[0])
    assessment, why = _allowed_or_same(key.name, reference, "history_foreign_key")
    key_row = _row(item, expected, key.name, assessment, why)
    if key.on_delete == "CASCADE":
        cascade = _row(cascade_item, cascade_expected, key.on_delete, Assessment.AS_CONTRACT)
    else:
        why = "deleting a task would not delete its history"
        cascade = _row(cascade_item, cascade_expected, key.on_delete, Assessment.VIOLATION, why)
    return key_row, cascade, key
