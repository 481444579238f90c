"""The status_history table: an integer identity id, PostgreSQL's own foreign-key name.

Revision ID: b15e0c6f8a27
Revises: 7d3f2a9c41e8
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "b15e0c6f8a27"
down_revision = "7d3f2a9c41e8"
branch_labels = None
depends_on = None

TASK_STATUS = postgresql.ENUM(
    "pending", "processing", "completed", "failed", name="taskstatus", create_type=False
)


def upgrade() -> None:
    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), primary_key=True),
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", TASK_STATUS, nullable=False),
        sa.Column(
            "transitioned_at",
            sa.TIMESTAMP(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False, server_default=sa.text("current_user")),
        # Unnamed: PostgreSQL calls it status_history_task_id_fkey.
        sa.ForeignKeyConstraint(["task_id"], ["tasks.task_id"], ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("status_history")
