"""The taskstatus enum and the tasks table, with columns the contract does not name.

Revision ID: 7d3f2a9c41e8
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "7d3f2a9c41e8"
down_revision = None
branch_labels = None
depends_on = None

TASK_STATUS = postgresql.ENUM(
    "pending", "processing", "completed", "failed", name="taskstatus", create_type=False
)


def upgrade() -> None:
    TASK_STATUS.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "tasks",
        sa.Column("task_id", postgresql.UUID(as_uuid=True), primary_key=True),
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
        # The service's own bookkeeping, as in the reference.
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        # Columns of the variant only: the service never writes them, their defaults do.
        sa.Column("priority", sa.SmallInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column(
            "labels", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.CheckConstraint("shots >= 1 AND shots <= 100000", name="shots_in_range"),
    )


def downgrade() -> None:
    op.drop_table("tasks")
    TASK_STATUS.drop(op.get_bind(), checkfirst=False)
