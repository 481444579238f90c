"""`alembic upgrade head` (the service's migrate entry point) on an empty database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from conftest import Service

from qtask_stack.state import SUPERUSER, load_state


@pytest.fixture
async def empty_database(service: Service) -> AsyncIterator[str]:
    """A new, empty database on the stack's server, owned by the service's role; dropped after.

    The service's role may not create databases, so the stack's superuser does (state.json).
    """
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    state = load_state(service.stack.state_dir)
    assert state is not None
    url = urlsplit(service.env["QTASK_DATABASE_URL"])
    admin = await asyncpg.connect(
        host=url.hostname,
        port=url.port,
        user=SUPERUSER,
        password=state.credentials.postgres_superuser,
        database="postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{url.username}"')
        yield urlunsplit(url._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _migrate(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QTASK_SERVICE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "qtask_service.db.migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_upgrade_head_on_an_empty_database(empty_database: str) -> None:
    first, second = _migrate(empty_database), _migrate(empty_database)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr  # idempotent
    password = urlsplit(empty_database).password
    assert not password or password not in first.stderr + first.stdout
    db = await asyncpg.connect(empty_database)
    try:
        assert await db.fetchval("SELECT version_num FROM alembic_version") == "0002"
        labels = await db.fetchval("SELECT enum_range(NULL::task_status)::text[]")
        assert labels == ["pending", "processing", "completed", "failed"]
        indexes = {
            row["indexname"]: row["indexdef"]
            for row in await db.fetch("SELECT indexname, indexdef FROM pg_indexes")
        }
        assert "(current_status)" in indexes["ix_tasks_current_status"]
        assert "(submitted_at)" in indexes["ix_tasks_submitted_at"]
        assert "(task_id, transitioned_at)" in indexes["ix_status_history_task_id_transitioned_at"]
        fk = await db.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname = 'fk_status_history_task_id_tasks'"
        )
        assert fk == "FOREIGN KEY (task_id) REFERENCES tasks(task_id) ON DELETE CASCADE"
        columns = {
            (row["table_name"], row["column_name"]): row["udt_name"]
            for row in await db.fetch(
                "SELECT table_name, column_name, udt_name FROM information_schema.columns"
                " WHERE table_schema = 'public'"
            )
        }
        assert {
            ("tasks", "task_id"): "uuid",
            ("tasks", "circuit"): "text",
            ("tasks", "shots"): "int4",
            ("tasks", "current_status"): "task_status",
            ("tasks", "submitted_at"): "timestamptz",
            ("tasks", "started_at"): "timestamptz",
            ("tasks", "completed_at"): "timestamptz",
            ("tasks", "result"): "jsonb",
            ("tasks", "error_message"): "text",
            ("status_history", "id"): "int8",
            ("status_history", "task_id"): "uuid",
            ("status_history", "status"): "task_status",
            ("status_history", "transitioned_at"): "timestamptz",
            ("status_history", "notes"): "text",
        }.items() <= columns.items()
    finally:
        await db.close()
