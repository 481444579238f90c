"""The status_history table, one row per transition of a task, and its index.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TASK_STATUS = postgresql.ENUM(
    "pending", "processing", "completed", "failed", name="task_status", create_type=False
)


def upgrade() -> None:
    op.create_table(
        "status_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),  # bigserial
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", TASK_STATUS, nullable=False),
        sa.Column(
            "transitioned_at",
            sa.TIMESTAMP(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_status_history"),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.task_id"],
            name="fk_status_history_task_id_tasks",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_status_history_task_id_transitioned_at",
        "status_history",
        ["task_id", "transitioned_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_status_history_task_id_transitioned_at", table_name="status_history")
    op.drop_table("status_history")
