"""Read-mostly access to the deployment's PostgreSQL: tasks, their history, the schema.

The only writes are deletions of tasks the suite itself created (see ``ledger``).

Another implementation of the contract may lack a column, add some, or type them differently.
The inspector looks before it reads: the queries that fetch a task or its history name only the
columns the table has (introspected from ``pg_attribute``), so a missing column is a ``None`` the
caller can explain (``TaskRow.missing``), never an ``UndefinedColumnError``. A column without
which nothing can be read at all (``tasks.task_id``, ``tasks.current_status``,
``status_history.status``) is a :class:`DeploymentFault` naming the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from ..errors import DeploymentFault


@dataclass(frozen=True)
class TaskRow:
    """A stored task; a contract column the table lacks reads None and is named in ``missing``."""

    task_id: str
    circuit: str | None
    shots: int | None
    current_status: str
    submitted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    result: Any
    error_message: str | None
    missing: tuple[str, ...] = ()

    def lacks(self, *columns: str) -> tuple[str, ...]:
        """Those of ``columns`` that the tasks table does not have."""
        return tuple(column for column in columns if column in self.missing)


@dataclass(frozen=True)
class TaskAge:
    """A task as the read-only production checks see it: how long it has been in its status."""

    task_id: str
    status: str
    age_s: float  # since it was submitted (pending) or started (processing, finished)
    error_message: str | None = None


# Where a task's time in its current status starts counting.
_STATUS_SINCE = {"pending": "submitted_at", "processing": "coalesce(started_at, submitted_at)"}


@dataclass(frozen=True)
class HistoryRow:
    """One status transition; ``transitioned_at`` or ``notes`` is None if the table lacks it."""

    status: str
    transitioned_at: datetime | None
    notes: str | None


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    referenced_table: str
    referenced_columns: tuple[str, ...]
    on_delete: str  # "CASCADE", "NO ACTION", ...


_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


# The contract's columns the inspector reads, and how each is selected (enums and JSON as text).
_TASK_COLUMNS = {
    "circuit": "circuit",
    "shots": "shots",
    "submitted_at": "submitted_at",
    "started_at": "started_at",
    "completed_at": "completed_at",
    "result": "result::text",
    "error_message": "error_message",
}
_HISTORY_COLUMNS = {"transitioned_at": "transitioned_at", "notes": "notes"}
_INTEGER_TYPES = ("smallint", "integer", "bigint")


def _json(text: str | None) -> Any:
    """A stored result: JSON as the contract says, or the raw text if it is not JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _as_uuid(task_id: str) -> UUID | None:
    try:
        return UUID(task_id)
    except ValueError:
        return None


def _age(row: asyncpg.Record) -> TaskAge:
    return TaskAge(str(row["task_id"]), row["status"], float(row["age_s"]), row["error_message"])


class DatabaseInspector:
    """A small pool of connections with a per-query timeout."""

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    @classmethod
    async def connect(cls, url: str, timeout_s: float = 5.0) -> DatabaseInspector:
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=4, timeout=timeout_s, command_timeout=timeout_s
        )
        return cls(pool, timeout_s)

    async def close(self) -> None:
        await self._pool.close()

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self._pool.fetch(query, *args, timeout=self._timeout)

    async def _fetchval(self, query: str, *args: Any) -> Any:
        return await self._pool.fetchval(query, *args, timeout=self._timeout)

    async def now(self) -> datetime:
        """The database's clock, so time windows do not depend on the client's."""
        value: datetime = await self._fetchval("SELECT clock_timestamp()")
        return value

    async def _readable(self, table: str, needed: Sequence[str], purpose: str) -> dict[str, str]:
        """The columns of ``table`` (name -> type), after checking it has every ``needed`` one.

        A missing table or needed column is a DeploymentFault naming the database that says what
        could not be read (``purpose``) and what the table holds instead.
        """
        columns = await self.columns(table)
        if not columns:
            raise DeploymentFault("database", f"the database has no table {table}, so {purpose}")
        absent = [column for column in needed if column not in columns]
        if absent:
            raise DeploymentFault(
                "database",
                f"the table {table} has no column {', '.join(absent)}, so {purpose} "
                f"(its columns: {', '.join(columns)})",
            )
        return columns

    async def fetch_task(self, task_id: str) -> TaskRow | None:
        """The stored task, reading only the contract columns that the tasks table has.

        Raises DeploymentFault(database) if the table, its ``task_id`` or its ``current_status``
        column is missing: without them no task can be read.
        """
        uuid = _as_uuid(task_id)
        if uuid is None:
            return None
        columns = await self._readable(
            "tasks", ("task_id", "current_status"), f"task {task_id} cannot be read"
        )
        present = {name: expr for name, expr in _TASK_COLUMNS.items() if name in columns}
        selected = "".join(f", {expr} AS {name}" for name, expr in present.items())
        rows = await self._fetch(
            "SELECT task_id, current_status::text AS current_status"
            f"{selected} FROM tasks WHERE task_id = $1",
            uuid,
        )
        if not rows:
            return None
        row = rows[0]

        def value(name: str) -> Any:
            return row[name] if name in present else None

        return TaskRow(
            task_id=str(row["task_id"]),
            circuit=value("circuit"),
            shots=value("shots"),
            current_status=row["current_status"],
            submitted_at=value("submitted_at"),
            started_at=value("started_at"),
            completed_at=value("completed_at"),
            result=_json(value("result")),
            error_message=value("error_message"),
            missing=tuple(name for name in _TASK_COLUMNS if name not in present),
        )

    async def fetch_history(self, task_id: str) -> list[HistoryRow]:
        """The task's status history in the order it was written.

        That order is the ``id``'s when it is an integer (an identity or serial); with another
        key type (a uuid) it is ``transitioned_at``'s. Columns the table lacks read as None;
        a missing table or ``task_id``/``status`` column is a DeploymentFault(database).
        """
        uuid = _as_uuid(task_id)
        if uuid is None:
            return []
        columns = await self._readable(
            "status_history", ("task_id", "status"), f"the history of task {task_id} cannot be read"
        )
        present = {name: expr for name, expr in _HISTORY_COLUMNS.items() if name in columns}
        selected = "".join(f", {expr} AS {name}" for name, expr in present.items())
        if columns.get("id") in _INTEGER_TYPES:
            order = " ORDER BY id"
        elif "transitioned_at" in present:
            order = " ORDER BY transitioned_at" + (", id" if "id" in columns else "")
        else:
            order = ""
        rows = await self._fetch(
            f"SELECT status::text AS status{selected} FROM status_history"
            f" WHERE task_id = $1{order}",
            uuid,
        )
        return [
            HistoryRow(
                r["status"],
                r["transitioned_at"] if "transitioned_at" in present else None,
                r["notes"] if "notes" in present else None,
            )
            for r in rows
        ]

    async def count_untracked_tasks_between(
        self, start: datetime, end: datetime, suite_marker_prefix: str, own_marker: str
    ) -> int:
        """Tasks submitted in [start, end] that are not another suite submission.

        Every valid submission of the suite carries a marker in its circuit; a row in the window
        without one (or with ``own_marker``) was written for the request under test. Needs the
        ``submitted_at`` and ``circuit`` columns (a DeploymentFault(database) names a missing one).
        """
        await self._readable(
            "tasks",
            ("submitted_at", "circuit"),
            "the tasks written for a request cannot be told from the others",
        )
        count: int = await self._fetchval(
            "SELECT count(*) FROM tasks WHERE submitted_at BETWEEN $1 AND $2"
            " AND (circuit IS NULL OR strpos(circuit, $3) = 0 OR strpos(circuit, $4) > 0)",
            start,
            end,
            suite_marker_prefix,
            own_marker,
        )
        return count

    async def count_unfinished_tasks(self) -> int:
        """Tasks of anyone pending or processing (the only ones whose message may be held)."""
        await self._readable(
            "tasks", ("current_status",), "the tasks pending or processing cannot be counted"
        )
        count: int = await self._fetchval(
            "SELECT count(*) FROM tasks WHERE current_status::text IN ('pending', 'processing')"
        )
        return count

    async def _real_task_columns(self) -> dict[str, str]:
        return await self._readable(
            "tasks",
            ("task_id", "current_status", "submitted_at", "circuit"),
            "the real users' tasks cannot be told from the suite's or dated",
        )

    async def recent_real_tasks(
        self, within_s: float, suite_marker_prefix: str, limit: int = 500
    ) -> list[TaskAge]:
        """Tasks submitted in the last ``within_s`` seconds that the suite did not submit."""
        columns = await self._real_task_columns()
        error = "error_message" if "error_message" in columns else "NULL::text"
        rows = await self._fetch(
            f"SELECT task_id, current_status::text AS status, {error} AS error_message,"
            " extract(epoch FROM now() - submitted_at)::float8 AS age_s FROM tasks"
            " WHERE submitted_at > now() - make_interval(secs => $1)"
            " AND (circuit IS NULL OR strpos(circuit, $2) = 0)"
            " ORDER BY submitted_at DESC LIMIT $3",
            float(within_s),
            suite_marker_prefix,
            limit,
        )
        return [_age(r) for r in rows]

    async def real_tasks_stuck(
        self, status: str, longer_than_s: float, suite_marker_prefix: str, limit: int = 20
    ) -> list[TaskAge]:
        """Tasks not submitted by the suite, ``status`` for longer than ``longer_than_s``.

        Without a ``started_at`` column, a task's time in ``processing`` counts from its
        submission.
        """
        columns = await self._real_task_columns()
        since = _STATUS_SINCE[status] if "started_at" in columns else "submitted_at"
        error = "error_message" if "error_message" in columns else "NULL::text"
        rows = await self._fetch(
            f"SELECT task_id, current_status::text AS status, {error} AS error_message,"
            f" extract(epoch FROM now() - {since})::float8 AS age_s FROM tasks"
            f" WHERE current_status::text = $1 AND {since} < now() - make_interval(secs => $2)"
            " AND (circuit IS NULL OR strpos(circuit, $3) = 0)"
            f" ORDER BY {since} LIMIT $4",
            status,
            float(longer_than_s),
            suite_marker_prefix,
            limit,
        )
        return [_age(r) for r in rows]

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        """Delete these tasks and their history; returns how many tasks were deleted."""
        uuids = [u for u in (_as_uuid(t) for t in task_ids) if u is not None]
        if not uuids:
            return 0
        pool = self._pool
        async with pool.acquire(timeout=self._timeout) as conn, conn.transaction():
            await conn.execute("DELETE FROM status_history WHERE task_id = ANY($1::uuid[])", uuids)
            status = await conn.execute("DELETE FROM tasks WHERE task_id = ANY($1::uuid[])", uuids)
        return int(status.split()[-1])

    async def task_ids_marked(self, markers: Sequence[str]) -> list[str]:
        """Ids of tasks whose circuit carries one of these suite markers."""
        if not markers:
            return []
        rows = await self._fetch(
            "SELECT task_id FROM tasks WHERE circuit IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS m WHERE strpos(circuit, m) > 0)",
            list(markers),
        )
        return [str(r["task_id"]) for r in rows]

    # --- schema -------------------------------------------------------------------------------

    async def alembic_revision(self) -> str | None:
        """The revision in alembic_version, or None if the table is missing or empty."""
        exists = await self._fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        if not exists:
            return None
        value: str | None = await self._fetchval("SELECT version_num FROM alembic_version LIMIT 1")
        return value

    async def tables(self) -> list[str]:
        """The tables (and views) of the current schema, by name."""
        rows = await self._fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')"
            " ORDER BY c.relname"
        )
        return [r["relname"] for r in rows]

    async def columns(self, table: str) -> dict[str, str]:
        """Column name -> type as PostgreSQL formats it (``timestamp with time zone``, ...),
        in the table's order; {} if there is no such table."""
        rows = await self._fetch(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type"
            " FROM pg_attribute a WHERE a.attrelid = to_regclass($1)"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            table,
        )
        return {r["attname"]: r["type"] for r in rows}

    async def primary_key(self, table: str) -> tuple[str, ...]:
        """The primary key's columns in order; () if the table has none (or does not exist)."""
        rows = await self._fetch(
            "SELECT a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = to_regclass($1) AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)",
            table,
        )
        return tuple(r["attname"] for r in rows)

    async def indexes(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Index name -> (table, key columns in order), for the current schema."""
        rows = await self._fetch(
            "SELECT ic.relname AS index, t.relname AS table,"
            " array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
            "       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            "       ORDER BY k.n) AS columns"
            " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
            " JOIN pg_class t ON t.oid = i.indrelid"
            " JOIN pg_namespace ns ON ns.oid = t.relnamespace"
            " WHERE ns.nspname = current_schema()"
        )
        return {r["index"]: (r["table"], tuple(r["columns"])) for r in rows}

    async def enum_labels(self, type_name: str) -> list[str]:
        """The labels of an enum type, in their declared order ([] if there is no such enum)."""
        rows = await self._fetch(
            "SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = to_regtype($1)"
            " ORDER BY e.enumsortorder",
            type_name,
        )
        return [r["enumlabel"] for r in rows]

    async def enum_types(self) -> dict[str, tuple[str, ...]]:
        """Every enum type outside the system schemas: name -> labels in their declared order.

        The name is written as :meth:`columns` writes a column's type (``format_type``: bare when
        its schema is on the search path, ``schema.name`` otherwise), so the type of a column can
        be looked up here directly. This is how the enum holding the task statuses is found by
        structure, whatever it is called.
        """
        rows = await self._fetch(
            "SELECT format_type(t.oid, NULL) AS name,"
            " array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels"
            " FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid"
            " JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " GROUP BY t.oid ORDER BY 1"
        )
        return {r["name"]: tuple(r["labels"]) for r in rows}

    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        """The foreign keys declared on ``table``, whatever they are called."""
        rows = await self._fetch(
            "SELECT c.conname, c.confdeltype::text AS on_delete, r.relname AS referenced,"
            " array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)"
            "       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
            "       ORDER BY k.n) AS columns,"
            " array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)"
            "       JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum"
            "       ORDER BY k.n) AS referenced_columns"
            " FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid"
            " WHERE c.contype = 'f' AND c.conrelid = to_regclass($1)",
            table,
        )
        return [
            ForeignKey(
                name=r["conname"],
                columns=tuple(r["columns"]),
                referenced_table=r["referenced"],
                referenced_columns=tuple(r["referenced_columns"]),
                on_delete=_ON_DELETE.get(r["on_delete"], r["on_delete"]),
            )
            for r in rows
        ]

    async def ping(self) -> float:
        """Round-trip time of a trivial query, in milliseconds."""
        started = time.perf_counter()
        await self._fetchval("SELECT 1")
        return (time.perf_counter() - started) * 1000
