"""`alembic upgrade head` (the service's migrate entry point) on an empty database: the
reference's history, and the variant's, which builds the same contract differently."""

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

from qtask_service.db.tasks import NewTask, Outcome, TaskStore
from qtask_service.settings import VARIANT_ENVIRONMENT, Settings
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


def _migrate(database_url: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings, "QTASK_SERVICE_DATABASE_URL": database_url}
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


async def test_the_variant_history_builds_the_contract_differently(empty_database: str) -> None:
    first = _migrate(empty_database, **VARIANT_ENVIRONMENT)
    second = _migrate(empty_database, **VARIANT_ENVIRONMENT)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    db = await asyncpg.connect(empty_database)
    try:
        assert await db.fetchval("SELECT version_num FROM alembic_version") == "e94c8d13b5f0"
        labels = await db.fetchval("SELECT enum_range(NULL::taskstatus)::text[]")
        assert labels == ["pending", "processing", "completed", "failed"]
        assert await db.fetchval("SELECT to_regtype('task_status')") is None
        indexes = {
            row["indexname"]: row["indexdef"]
            for row in await db.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            )
        }
        assert "(current_status)" in indexes["idx_tasks_status"]
        assert "(submitted_at)" in indexes["idx_tasks_submitted"]
        assert "(task_id, transitioned_at)" in indexes["idx_history_task_time"]
        assert not {name for name in indexes if name.startswith("ix_")}
        fk = await db.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname = 'status_history_task_id_fkey'"
        )
        assert fk == "FOREIGN KEY (task_id) REFERENCES tasks(task_id) ON DELETE CASCADE"
        columns = await _column_types(db)
        assert columns[("status_history", "id")] == "int4"
        assert columns[("tasks", "current_status")] == "taskstatus"
        assert columns[("status_history", "status")] == "taskstatus"
        contract = {"task_id", "circuit", "shots", "current_status", "submitted_at", "started_at"}
        extra_tasks = {c for t, c in columns if t == "tasks"} - contract
        assert {"priority", "labels", "updated_at"} <= extra_tasks
        assert ("status_history", "recorded_by") in columns
    finally:
        await db.close()


async def test_every_statement_of_the_service_runs_on_the_variant_schema(
    empty_database: str,
) -> None:
    # The task store's own statements, on a variant database: insert, claim, finish, read.
    assert _migrate(empty_database, **VARIANT_ENVIRONMENT).returncode == 0
    store = await TaskStore.open(Settings(database_url=empty_database), 1)
    try:
        done, broken = uuid.uuid4(), uuid.uuid4()
        await store.insert([NewTask(done, "circuit", 10), NewTask(broken, "circuit", 20)])
        claims = await store.claim([done, broken], "test-worker")
        assert {claims[done].previous_status, claims[broken].previous_status} == {"pending"}
        assert await store.statuses([done, broken]) == {done: "processing", broken: "processing"}
        await store.finish(
            [Outcome(done, "completed", counts={"0": 10}), Outcome(broken, "failed", error="no")],
            "test-worker",
        )
        finished = await store.get(done)
        failed = await store.get(broken)
        assert finished is not None and failed is not None
        assert (finished["status"], finished["result"]) == ("completed", {"0": 10})
        assert (failed["status"], failed["error_message"]) == ("failed", "no")
        await store.delete_unstarted(uuid.uuid4())
    finally:
        await store.close()
    db = await asyncpg.connect(empty_database)
    try:
        history = await db.fetch(
            "SELECT status::text FROM status_history WHERE task_id = $1 ORDER BY id", done
        )
        assert [row["status"] for row in history] == ["pending", "processing", "completed"]
    finally:
        await db.close()


async def _column_types(db: asyncpg.Connection) -> dict[tuple[str, str], str]:
    return {
        (row["table_name"], row["column_name"]): row["udt_name"]
        for row in await db.fetch(
            "SELECT table_name, column_name, udt_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        )
    }
