"""Fixtures for the service's tests: clients of the session's private stack (`local_stack`).

Every test talks to the real API, database and broker of the stack; tasks a test creates are
deleted at its end so later tests count rows undisturbed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from qtask_stack import Stack
from qtask_verify.checks.circuits import BELL_CIRCUIT as BELL

QUEUE = "quantum_tasks"
DLQ = "quantum_tasks.dlq"


@dataclass
class Service:
    """Handles on one stack: its HTTP API, database, broker management API, and controls."""

    stack: Stack
    env: dict[str, str] = field(repr=False)  # URLs with passwords: never in a failure's output
    api: httpx.AsyncClient
    management: httpx.AsyncClient
    db: asyncpg.Connection
    created: list[uuid.UUID]

    async def submit(self, qc: str = BELL, shots: int = 1024) -> uuid.UUID:
        """Submit a task that must be accepted; it is cleaned up after the test."""
        response = await self.api.post("/tasks", json={"qc": qc, "shots": shots})
        assert response.status_code == 200, response.text
        task_id = uuid.UUID(response.json()["task_id"])
        self.created.append(task_id)
        return task_id

    async def wait_status(
        self, task_id: uuid.UUID, statuses: set[str], timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """Poll the API until the task reaches one of `statuses`; its last view otherwise."""
        deadline = time.monotonic() + timeout_s
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.api.get(f"/tasks/{task_id}")
            body = response.json()
            if response.status_code == 200 and body["status"] in statuses:
                return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"task {task_id} not in {statuses} after {timeout_s} s: {body}")

    async def reconnect_database(self) -> None:
        """After a database restart, which closed the test's connection."""
        self.db.terminate()
        self.db = await asyncpg.connect(self.env["QTASK_DATABASE_URL"])

    async def history(self, task_id: uuid.UUID) -> list[asyncpg.Record]:
        """The task's status_history rows in order."""
        return await self.db.fetch(
            "SELECT status::text AS status, transitioned_at FROM status_history"
            " WHERE task_id = $1 ORDER BY transitioned_at, id",
            task_id,
        )

    async def task_count(self) -> int:
        """Rows in `tasks`."""
        count: int = await self.db.fetchval("SELECT count(*) FROM tasks")
        return count

    async def queue(self, name: str = QUEUE) -> dict[str, Any]:
        """The queue as the Management API describes it."""
        response = await self.management.get(f"/api/queues/%2F/{name}")
        response.raise_for_status()
        queue: dict[str, Any] = response.json()
        return queue

    async def published(self, name: str = QUEUE) -> int:
        """Messages ever published to the queue (the Management API's counter)."""
        stats = (await self.queue(name)).get("message_stats", {})
        return int(stats.get("publish", 0))

    async def wait_healthy(self, timeout_s: float = 60.0) -> None:
        """Until /health answers 200 (dependencies reconnected)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if (await self.api.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
        raise AssertionError(f"/health not healthy within {timeout_s} s")


@pytest.fixture
async def service(local_stack: Stack) -> AsyncIterator[Service]:
    """Clients of the session's stack; deletes the tasks the test created.

    The broker is reached as the stack's administrator: these tests publish and take messages
    as a client of the service would, which the suite's read-only verifier account may not.
    """
    env = local_stack.admin_env()
    auth = (env["QTASK_MANAGEMENT_USER"], env["QTASK_MANAGEMENT_PASSWORD"])
    async with (
        httpx.AsyncClient(base_url=env["QTASK_API_URL"], timeout=30) as api,
        httpx.AsyncClient(base_url=env["QTASK_MANAGEMENT_URL"], auth=auth, timeout=10) as mgmt,
    ):
        db = await asyncpg.connect(env["QTASK_DATABASE_URL"])
        handle = Service(local_stack, env, api, mgmt, db, [])
        try:
            yield handle
        finally:
            # A new connection: the test may have restarted the database under the old one.
            handle.db.terminate()
            if handle.created:
                cleanup = await asyncpg.connect(env["QTASK_DATABASE_URL"])
                try:
                    await cleanup.execute(
                        "DELETE FROM tasks WHERE task_id = ANY($1::uuid[])", handle.created
                    )
                finally:
                    await cleanup.close()
