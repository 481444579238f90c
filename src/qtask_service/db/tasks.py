"""Data access for tasks: every transition is one statement, so one round trip and one commit.

No statement names the status enum type (statuses are literals, read back as text), so the same
statements run on the reference schema and on the variant's.

Each transition updates `tasks` and appends its `status_history` row in the same statement
(data-modifying CTEs), guarded by the status it leaves, so a replayed transition is a no-op and a
task never gets two history rows for the same transition. The worker's transitions take a batch
of tasks at once: one commit for many tasks is most of the worker's throughput.
"""

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from qtask_service.db.pool import connection, create_pool
from qtask_service.settings import Settings

_INSERT = """
WITH task AS (
    INSERT INTO tasks (task_id, circuit, shots, current_status, submitted_at)
    SELECT task_id, circuit, shots, 'pending', clock_timestamp()
    FROM unnest($1::uuid[], $2::text[], $3::int[]) AS s (task_id, circuit, shots)
    RETURNING task_id, submitted_at
)
INSERT INTO status_history (task_id, status, transitioned_at, notes)
SELECT task_id, 'pending', submitted_at, 'submitted' FROM task
"""

_STATUSES = """
SELECT task_id, current_status::text AS status FROM tasks WHERE task_id = ANY($1::uuid[])
"""

_DELETE = "DELETE FROM tasks WHERE task_id = $1 AND current_status = 'pending'"

_GET = """
SELECT task_id, current_status::text AS status, shots, submitted_at, started_at, completed_at,
       attempts, result, error_message
FROM tasks WHERE task_id = $1
"""

# Claims pending tasks, or re-claims those a dead worker left in `processing` (then without a
# second history row). Unknown tasks return no row; finished ones only their status. Rows are
# locked in task_id order so that two workers claiming overlapping batches cannot deadlock.
_CLAIM = """
WITH previous AS (
    SELECT task_id, current_status FROM tasks
    WHERE task_id = ANY($1::uuid[]) ORDER BY task_id FOR UPDATE
), claimed AS (
    UPDATE tasks AS t
    SET current_status = 'processing',
        started_at = COALESCE(t.started_at, now()),
        attempts = t.attempts + 1
    FROM previous AS p
    WHERE t.task_id = p.task_id AND p.current_status IN ('pending', 'processing')
    RETURNING t.task_id, t.circuit, t.shots, t.attempts
), history AS (
    INSERT INTO status_history (task_id, status, transitioned_at, notes)
    SELECT c.task_id, 'processing', now(), $2
    FROM claimed AS c JOIN previous AS p USING (task_id)
    WHERE p.current_status = 'pending'
)
SELECT p.task_id, p.current_status::text AS previous_status, c.circuit, c.shots, c.attempts
FROM previous AS p LEFT JOIN claimed AS c USING (task_id)
"""

# processing -> completed | failed, for tasks still in processing (a replay changes nothing). One
# UPDATE per outcome, each setting its status from a literal: the statement names no enum type,
# so it runs on any schema whose status column holds the four statuses.
_FINISH = """
WITH outcome AS (
    SELECT * FROM unnest($1::uuid[], $2::bool[], $3::jsonb[], $4::text[])
        AS o (task_id, completed, result, error)
), completed AS (
    UPDATE tasks AS t
    SET current_status = 'completed', completed_at = now(), result = o.result,
        error_message = NULL
    FROM outcome AS o
    WHERE t.task_id = o.task_id AND o.completed AND t.current_status = 'processing'
    RETURNING t.task_id, t.current_status, t.completed_at
), failed AS (
    UPDATE tasks AS t
    SET current_status = 'failed', completed_at = now(), result = NULL, error_message = o.error
    FROM outcome AS o
    WHERE t.task_id = o.task_id AND NOT o.completed AND t.current_status = 'processing'
    RETURNING t.task_id, t.current_status, t.completed_at
)
INSERT INTO status_history (task_id, status, transitioned_at, notes)
SELECT task_id, current_status, completed_at, $5 FROM completed
UNION ALL
SELECT task_id, current_status, completed_at, $5 FROM failed
"""


@dataclass(frozen=True, slots=True)
class NewTask:
    """A submission to store."""

    task_id: uuid.UUID
    circuit: str
    shots: int


@dataclass(frozen=True, slots=True)
class Claim:
    """Outcome of claiming a task for execution."""

    previous_status: str
    circuit: str | None = None
    shots: int | None = None
    attempts: int = 0

    @property
    def claimed(self) -> bool:
        """True when this delivery must execute the task (it was pending or processing)."""
        return self.circuit is not None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a claimed task ended: completed with counts, or failed with a readable error."""

    task_id: uuid.UUID
    status: Literal["completed", "failed"]
    counts: dict[str, int] | None = None
    error: str | None = None


class TaskStore:
    """The service's queries on a pool; every call is bounded by `timeout_s`."""

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s

    @classmethod
    async def open(cls, settings: Settings, max_size: int) -> "TaskStore":
        """A store on a new (lazily connecting) pool, bounded by the settings' timeouts."""
        pool = await create_pool(
            settings.database_url,
            max_size=max_size,
            connect_timeout_s=settings.db_connect_timeout_s,
            command_timeout_s=settings.db_command_timeout_s,
        )
        return cls(pool, settings.db_connect_timeout_s + settings.db_command_timeout_s)

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        """One round trip, for health checks."""
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.fetchval("SELECT 1")

    async def insert(self, tasks: list[NewTask]) -> None:
        """Store new pending tasks and their first history rows, in one commit."""
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.execute(
                _INSERT,
                [task.task_id for task in tasks],
                [task.circuit for task in tasks],
                [task.shots for task in tasks],
            )

    async def delete_unstarted(self, task_id: uuid.UUID) -> None:
        """Undo a submission whose message could not be queued (history rows cascade)."""
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.execute(_DELETE, task_id)

    async def get(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        """The task's public fields, or None when it does not exist."""
        async with connection(self._pool, self._timeout_s) as conn:
            row = await conn.fetchrow(_GET, task_id)
        return dict(row) if row is not None else None

    async def statuses(self, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The current status of each task that exists."""
        async with connection(self._pool, self._timeout_s) as conn:
            rows = await conn.fetch(_STATUSES, task_ids)
        return {uuid.UUID(str(row["task_id"])): row["status"] for row in rows}

    async def claim(self, task_ids: list[uuid.UUID], worker_name: str) -> dict[uuid.UUID, Claim]:
        """Move the tasks to processing (see `_CLAIM`); unknown tasks are absent from the map."""
        async with connection(self._pool, self._timeout_s) as conn:
            rows = await conn.fetch(_CLAIM, task_ids, f"claimed by {worker_name}")
        return {
            uuid.UUID(str(row["task_id"])): Claim(
                row["previous_status"], row["circuit"], row["shots"], row["attempts"] or 0
            )
            for row in rows
        }

    async def finish(self, outcomes: list[Outcome], worker_name: str) -> None:
        """Record completions and failures of tasks in processing, in one commit."""
        if not outcomes:
            return
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.execute(
                _FINISH,
                [outcome.task_id for outcome in outcomes],
                [outcome.status == "completed" for outcome in outcomes],
                [outcome.counts for outcome in outcomes],
                [outcome.error for outcome in outcomes],
                worker_name,
            )
