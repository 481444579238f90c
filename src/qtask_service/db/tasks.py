"""Data access for tasks: every transition is one statement, so one round trip and one commit.

Each transition updates `tasks` and appends its `status_history` row in the same statement
(data-modifying CTEs), guarded by the status it leaves, so a replayed transition is a no-op and a
task never gets two history rows for the same transition.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from qtask_service.db.pool import connection

_INSERT = """
WITH task AS (
    INSERT INTO tasks (task_id, circuit, shots, current_status, submitted_at)
    VALUES ($1, $2, $3, 'pending', now())
    RETURNING task_id, submitted_at
)
INSERT INTO status_history (task_id, status, transitioned_at, notes)
SELECT task_id, 'pending', submitted_at, 'submitted' FROM task
"""

_DELETE = "DELETE FROM tasks WHERE task_id = $1 AND current_status = 'pending'"

_GET = """
SELECT task_id, current_status::text AS status, shots, submitted_at, started_at, completed_at,
       result, error_message
FROM tasks WHERE task_id = $1
"""

# Claims a pending task, or re-claims one that a dead worker left in `processing` (then without a
# second history row). Returns no row for an unknown task; for a finished one only its status.
_CLAIM = """
WITH previous AS (
    SELECT task_id, current_status FROM tasks WHERE task_id = $1 FOR UPDATE
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
SELECT p.current_status::text AS previous_status, c.circuit, c.shots, c.attempts
FROM previous AS p LEFT JOIN claimed AS c USING (task_id)
"""

_FINISH = """
WITH finished AS (
    UPDATE tasks
    SET current_status = $2::task_status, completed_at = now(), result = $3,
        error_message = $4
    WHERE task_id = $1 AND current_status = 'processing'
    RETURNING task_id, completed_at
)
INSERT INTO status_history (task_id, status, transitioned_at, notes)
SELECT task_id, $2::task_status, completed_at, $5 FROM finished
"""


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


class TaskStore:
    """The service's queries on a pool; every call is bounded by `timeout_s`."""

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s

    async def ping(self) -> None:
        """One round trip, for health checks."""
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.fetchval("SELECT 1")

    async def insert(self, task_id: uuid.UUID, circuit: str, shots: int) -> None:
        """Store a new pending task and its first history row (committed on return)."""
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.execute(_INSERT, task_id, circuit, shots)

    async def delete_unstarted(self, task_id: uuid.UUID) -> None:
        """Undo a submission whose message could not be queued (history rows cascade)."""
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.execute(_DELETE, task_id)

    async def get(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        """The task's public fields, or None when it does not exist."""
        async with connection(self._pool, self._timeout_s) as conn:
            row = await conn.fetchrow(_GET, task_id)
        return dict(row) if row is not None else None

    async def claim(self, task_id: uuid.UUID, worker_name: str) -> Claim | None:
        """Move the task to processing (see `_CLAIM`); None when the task does not exist."""
        async with connection(self._pool, self._timeout_s) as conn:
            row = await conn.fetchrow(_CLAIM, task_id, f"claimed by {worker_name}")
        if row is None:
            return None
        return Claim(row["previous_status"], row["circuit"], row["shots"], row["attempts"] or 0)

    async def complete(self, task_id: uuid.UUID, counts: dict[str, int], notes: str) -> None:
        """processing -> completed with the counts; a no-op if the task already left processing."""
        await self._finish(task_id, "completed", counts, None, notes)

    async def fail(self, task_id: uuid.UUID, error: str, notes: str) -> None:
        """processing -> failed with a readable reason; a no-op if it already left processing."""
        await self._finish(task_id, "failed", None, error, notes)

    async def _finish(
        self,
        task_id: uuid.UUID,
        status: str,
        result: dict[str, int] | None,
        error: str | None,
        notes: str,
    ) -> None:
        async with connection(self._pool, self._timeout_s) as conn:
            await conn.execute(_FINISH, task_id, status, result, error, notes)
