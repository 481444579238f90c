"""The variant: the reference service built differently in every way the contract allows, by its
settings alone (`VARIANT_ENVIRONMENT`), on a private stack and a vhost of its own.

It migrates with its own history, runs tasks to completion with one history row per
transition, dead-letters poison messages from its quorum queue, and answers with extra fields.
The stack runs it on the service's broker account, which is no administrator.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aio_pika
import asyncpg
import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from conftest import BELL

from qtask_service.settings import VARIANT_ENVIRONMENT, VARIANT_VHOST
from qtask_stack import Stack, temporary_stack

QUEUE = VARIANT_ENVIRONMENT["QTASK_SERVICE_QUEUE_NAME"]
DLX = VARIANT_ENVIRONMENT["QTASK_SERVICE_DEAD_LETTER_EXCHANGE"]
DLQ = VARIANT_ENVIRONMENT["QTASK_SERVICE_DEAD_LETTER_QUEUE"]
ROUTING_KEY = VARIANT_ENVIRONMENT["QTASK_SERVICE_DEAD_LETTER_ROUTING_KEY"]


@pytest.fixture(scope="module")
def variant_stack() -> Iterator[Stack]:
    with temporary_stack(workers=1, extra_env=VARIANT_ENVIRONMENT, vhost=VARIANT_VHOST) as stack:
        yield stack


@dataclass
class Variant:
    """Clients of the variant's stack (the broker as its administrator, to look and publish)."""

    stack: Stack
    api: httpx.AsyncClient
    management: httpx.AsyncClient
    db: asyncpg.Connection
    amqp_url: str = field(repr=False)  # carries a password: never in a failure's output
    created: list[uuid.UUID] = field(default_factory=list)

    async def queue(self, name: str) -> dict[str, Any]:
        response = await self.management.get(f"/api/queues/{quote(VARIANT_VHOST, safe='')}/{name}")
        response.raise_for_status()
        queue: dict[str, Any] = response.json()
        return queue

    async def wait_status(self, task_id: uuid.UUID, statuses: set[str]) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = (await self.api.get(f"/tasks/{task_id}")).json()
            if body.get("status") in statuses:
                return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"task {task_id} not in {statuses} after 60 s: {body}")


@pytest.fixture
async def variant(variant_stack: Stack) -> AsyncIterator[Variant]:
    env = variant_stack.admin_env()
    auth = (env["QTASK_MANAGEMENT_USER"], env["QTASK_MANAGEMENT_PASSWORD"])
    async with (
        httpx.AsyncClient(base_url=env["QTASK_API_URL"], timeout=30) as api,
        httpx.AsyncClient(base_url=env["QTASK_MANAGEMENT_URL"], auth=auth, timeout=10) as mgmt,
    ):
        db = await asyncpg.connect(env["QTASK_DATABASE_URL"])
        handle = Variant(variant_stack, api, mgmt, db, env["QTASK_AMQP_URL"])
        try:
            yield handle
        finally:
            await db.execute("DELETE FROM tasks WHERE task_id = ANY($1::uuid[])", handle.created)
            await db.close()


@pytest.fixture
async def channel(variant: Variant) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect(variant.amqp_url)
    try:
        yield await connection.channel(publisher_confirms=True)
    finally:
        await connection.close()


async def _dead_lettered(channel: AbstractChannel, message_id: str) -> aio_pika.IncomingMessage:
    dlq = await channel.declare_queue(DLQ, passive=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = await dlq.get(no_ack=False, fail=False)
        if message is None:
            await asyncio.sleep(0.2)
            continue
        if message.message_id == message_id:
            await message.ack()
            assert isinstance(message, aio_pika.IncomingMessage)
            return message
        await message.nack(requeue=True)
    raise AssertionError(f"message {message_id} did not reach {DLQ}")


async def test_the_variant_migrates_with_its_own_history(variant: Variant) -> None:
    assert await variant.db.fetchval("SELECT version_num FROM alembic_version") == "e94c8d13b5f0"
    assert await variant.db.fetchval("SELECT to_regtype('taskstatus')::text") == "taskstatus"
    assert await variant.db.fetchval("SELECT to_regtype('task_status')") is None


async def test_a_task_completes_with_one_history_row_per_transition(variant: Variant) -> None:
    response = await variant.api.post("/tasks", json={"qc": BELL, "shots": 256})

    assert response.status_code == 200
    submitted = response.json()
    task_id = uuid.UUID(submitted["task_id"])
    variant.created.append(task_id)
    assert submitted["message"] == "Task submitted successfully."
    assert {"status", "links"} <= set(submitted)  # fields beyond the contract's
    view = await variant.wait_status(task_id, {"completed", "failed"})
    assert view["status"] == "completed", view
    assert sum(view["result"].values()) == 256
    assert set(view["result"]) <= {"00", "11"}
    assert "links" in view
    history = await variant.db.fetch(
        "SELECT status::text, recorded_by FROM status_history WHERE task_id = $1 ORDER BY id",
        task_id,
    )
    assert [row["status"] for row in history] == ["pending", "processing", "completed"]


async def test_answers_carry_extra_fields_beyond_the_contract(variant: Variant) -> None:
    missing = await variant.api.get(f"/tasks/{uuid.uuid4()}")
    health = await variant.api.get("/health")

    assert missing.status_code == 404
    body = missing.json()
    assert {"status": "error", "message": "Task not found."}.items() <= body.items()
    assert set(body) > {"status", "message"}
    assert health.status_code == 200
    assert {"implementation", "uptime_s"} <= set(health.json())
    assert health.json()["status"] == "healthy"


async def test_the_task_queue_is_a_quorum_queue_under_the_variant_names(
    variant: Variant, channel: AbstractChannel
) -> None:
    queue = await variant.queue(QUEUE)
    dead_letters = await variant.queue(DLQ)

    assert (queue["type"], queue["durable"], queue["auto_delete"]) == ("quorum", True, False)
    assert queue["arguments"]["x-dead-letter-exchange"] == DLX
    assert queue["arguments"]["x-dead-letter-routing-key"] == ROUTING_KEY
    assert queue["arguments"]["x-delivery-limit"] == 10
    declared = await channel.declare_queue(QUEUE, passive=True)
    assert declared.declaration_result.consumer_count == 1  # the variant's worker
    assert dead_letters["type"] == "quorum"
    bindings = (
        await variant.management.get(
            f"/api/exchanges/{quote(VARIANT_VHOST, safe='')}/{DLX}/bindings/source"
        )
    ).json()
    assert [(b["destination"], b["routing_key"]) for b in bindings] == [(DLQ, ROUTING_KEY)]


async def test_a_poison_message_is_dead_lettered_from_the_quorum_queue(
    variant: Variant, channel: AbstractChannel
) -> None:
    message_id = f"poison-{uuid.uuid4()}"
    await channel.default_exchange.publish(
        aio_pika.Message(
            b"{not json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message_id
        ),
        routing_key=QUEUE,
        mandatory=True,
    )

    message = await _dead_lettered(channel, message_id)
    deaths = message.headers.get("x-death")
    assert isinstance(deaths, list) and deaths
    assert deaths[0]["reason"] == "rejected"
    assert deaths[0]["queue"] == QUEUE


async def test_a_task_that_keeps_crashing_workers_fails_and_is_dead_lettered(
    variant: Variant, channel: AbstractChannel
) -> None:
    # As three crashed deliveries leave it: processing, claimed three times.
    task_id = uuid.uuid4()
    await variant.db.execute(
        "INSERT INTO tasks (task_id, circuit, shots, current_status, started_at, attempts)"
        " VALUES ($1, $2, 16, 'processing', now(), 3)",
        task_id,
        BELL,
    )
    variant.created.append(task_id)
    message_id = f"crashing-{task_id}"
    await channel.default_exchange.publish(
        aio_pika.Message(
            orjson.dumps({"task_id": str(task_id)}),
            message_id=message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=QUEUE,
        mandatory=True,
    )

    view = await variant.wait_status(task_id, {"completed", "failed"})
    assert view["status"] == "failed"
    assert "attempts" in view["error"]
    await _dead_lettered(channel, message_id)
