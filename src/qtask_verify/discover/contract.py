"""The contract's shapes, as `discover` compares a deployment against them (design section 2).

Names here are the reference implementation's defaults: a deployment that uses others differs in
a way the contract allows, and its profile adopts them. Shapes (tables, columns, types, statuses,
durability, dead-lettering) are what may not differ.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("pending", "processing", "completed", "failed")
# Stands for "the enum type holding the four statuses", whatever it is called.
STATUS_TYPE = "<status type>"
# Stands for "a key type": the contract leaves the type of status_history.id open; the suite
# orders a task's history by it, so it must be an integer or a uuid (checks.schema.KEY_TYPES).
ANY_TYPE = "<key>"
KEY_TYPES = ("smallint", "integer", "bigint", "uuid")
TIMESTAMPTZ = "timestamp with time zone"

TABLES: dict[str, dict[str, str]] = {
    "tasks": {
        "task_id": "uuid",
        "circuit": "text",
        "shots": "integer",
        "current_status": STATUS_TYPE,
        "submitted_at": TIMESTAMPTZ,
        "started_at": TIMESTAMPTZ,
        "completed_at": TIMESTAMPTZ,
        "result": "jsonb",
        "error_message": "text",
    },
    "status_history": {
        "id": ANY_TYPE,
        "task_id": "uuid",
        "status": STATUS_TYPE,
        "transitioned_at": TIMESTAMPTZ,
        "notes": "text",
    },
}
PRIMARY_KEYS = {"tasks": ("task_id",), "status_history": ("id",)}
# The reference's type for status_history.id.
REFERENCE_HISTORY_ID_TYPE = "bigint"


@dataclass(frozen=True)
class IndexShape:
    """An index the contract requires, and the reference's name for it."""

    table: str
    columns: tuple[str, ...]
    reference_name: str

    @property
    def shown(self) -> str:
        return f"{self.table}({', '.join(self.columns)})"


INDEXES = (
    IndexShape("tasks", ("current_status",), "ix_tasks_current_status"),
    IndexShape("tasks", ("submitted_at",), "ix_tasks_submitted_at"),
    IndexShape(
        "status_history",
        ("task_id", "transitioned_at"),
        "ix_status_history_task_id_transitioned_at",
    ),
)

REFERENCE_NAMES = {
    "alembic_head": "0002",
    "status_type": "task_status",
    "history_foreign_key": "fk_status_history_task_id_tasks",
    "queue_name": "quantum_tasks",
    "dead_letter_exchange": "quantum_tasks.dlx",
    "dead_letter_routing_key": "quantum_tasks.dlq",
    "dead_letter_queue": "quantum_tasks.dlq",
}

HEALTH_BODY = {"status": "healthy", "database_status": "connected", "queue_status": "connected"}
HEALTH_WITHIN_S = 2.0
NOT_FOUND_BODY = {"status": "error", "message": "Task not found."}
# Operations the OpenAPI document, where one is served, must list (path prefix, method).
OPERATIONS = (("/tasks", "post"), ("/tasks/{", "get"), ("/health", "get"))
QUEUE_TYPES = ("classic", "quorum")
