"""Indexes under names of the variant's own, and one more column on tasks.

Revision ID: e94c8d13b5f0
Revises: b15e0c6f8a27
"""

import sqlalchemy as sa
from alembic import op

revision = "e94c8d13b5f0"
down_revision = "b15e0c6f8a27"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("idx_tasks_status", "tasks", ["current_status"])
    op.create_index("idx_tasks_submitted", "tasks", ["submitted_at"])
    op.create_index("idx_history_task_time", "status_history", ["task_id", "transitioned_at"])
    op.add_column(
        "tasks",
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
    )


def downgrade() -> None:
    op.drop_column("tasks", "updated_at")
    op.drop_index("idx_history_task_time", table_name="status_history")
    op.drop_index("idx_tasks_submitted", table_name="tasks")
    op.drop_index("idx_tasks_status", table_name="tasks")
