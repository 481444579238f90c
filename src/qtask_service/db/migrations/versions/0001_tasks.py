"""The task_status enum, the tasks table and its indexes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TASK_STATUS = postgresql.ENUM(
    "pending", "processing", "completed", "failed", name="task_status", create_type=False
)


def upgrade() -> None:
    TASK_STATUS.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "tasks",
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("circuit", sa.Text(), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=False),
        sa.Column(
            "current_status", TASK_STATUS, nullable=False, server_default=sa.text("'pending'")
        ),
        sa.Column(
            "submitted_at",
            sa.TIMESTAMP(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("started_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("completed_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        # Deliveries that claimed the task: bounds redelivery of a task that crashes workers.
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.CheckConstraint("shots BETWEEN 1 AND 100000", name="ck_tasks_shots_range"),
        sa.PrimaryKeyConstraint("task_id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_current_status", "tasks", ["current_status"])
    op.create_index("ix_tasks_submitted_at", "tasks", ["submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_submitted_at", table_name="tasks")
    op.drop_index("ix_tasks_current_status", table_name="tasks")
    op.drop_table("tasks")
    TASK_STATUS.drop(op.get_bind(), checkfirst=False)
