"""At-least-once delivery made safe: duplicates, unknown tasks and poison messages.

The test publishes its own messages to the real queue, as a broker redelivery or a confused
producer would, and reads back only the dead-lettered messages it published.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from conftest import BELL, DLQ, QUEUE, Service


@pytest.fixture
async def channel(service: Service) -> AsyncIterator[AbstractChannel]:
    """A confirming channel on the stack's broker."""
    connection = await aio_pika.connect(service.env["QTASK_AMQP_URL"])
    try:
        yield await connection.channel(publisher_confirms=True)
    finally:
        await connection.close()


async def _publish(channel: AbstractChannel, body: bytes, message_id: str) -> None:
    await channel.default_exchange.publish(
        aio_pika.Message(
            body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message_id
        ),
        routing_key=QUEUE,
        mandatory=True,
    )


async def _dead_lettered(channel: AbstractChannel, message_id: str, timeout_s: float = 30) -> bool:
    """Whether our message reached the DLQ; only messages with our id are taken from it."""
    dlq = await channel.declare_queue(DLQ, passive=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = await dlq.get(no_ack=False, fail=False)
        if message is None:
            await asyncio.sleep(0.2)
            continue
        if message.message_id == message_id:
            await message.ack()
            return True
        await message.nack(requeue=True)  # someone else's: leave it where it was
        await asyncio.sleep(0.05)
    return False


async def _wait_handled(channel: AbstractChannel, timeout_s: float = 30) -> None:
    """Until the task queue is empty (AMQP declare-ok, exact), plus a moment for the worker
    that took the last message to settle it."""
    deadline = time.monotonic() + timeout_s
    while True:
        queue = await channel.declare_queue(QUEUE, passive=True)
        if queue.declaration_result.message_count == 0:
            await asyncio.sleep(1.0)
            return
        assert time.monotonic() < deadline, "the task queue did not drain"
        await asyncio.sleep(0.2)


async def test_unparseable_message_goes_to_the_dlq(
    service: Service, channel: AbstractChannel
) -> None:
    message_id = f"poison-{uuid.uuid4()}"

    await _publish(channel, b"this is not json {", message_id)

    assert await _dead_lettered(channel, message_id)


async def test_task_that_keeps_crashing_workers_fails_and_is_dead_lettered(
    service: Service, channel: AbstractChannel
) -> None:
    # As three crashed deliveries leave it: processing, claimed three times.
    task_id = uuid.uuid4()
    await service.db.execute(
        "INSERT INTO tasks (task_id, circuit, shots, current_status, started_at, attempts)"
        " VALUES ($1, $2, 16, 'processing', now(), 3)",
        task_id,
        BELL,
    )
    service.created.append(task_id)
    message_id = f"crashing-{task_id}"

    await _publish(channel, orjson.dumps({"task_id": str(task_id)}), message_id)

    view = await service.wait_status(task_id, {"completed", "failed"})
    assert view["status"] == "failed"
    assert "attempts" in view["error"]
    assert await _dead_lettered(channel, message_id)
    assert [row["status"] for row in await service.history(task_id)] == ["failed"]


async def test_duplicate_of_a_finished_task_is_ignored(
    service: Service, channel: AbstractChannel
) -> None:
    task_id = await service.submit(BELL, shots=50)
    first = await service.wait_status(task_id, {"completed"})

    await _publish(channel, orjson.dumps({"task_id": str(task_id)}), f"dup-{task_id}")
    await _wait_handled(channel)

    again = (await service.api.get(f"/tasks/{task_id}")).json()
    assert again == first
    history = [row["status"] for row in await service.history(task_id)]
    assert history == ["pending", "processing", "completed"]


async def test_task_left_processing_by_a_dead_worker_is_finished_once(
    service: Service, channel: AbstractChannel
) -> None:
    task_id = uuid.uuid4()
    async with service.db.transaction():
        await service.db.execute(
            "INSERT INTO tasks (task_id, circuit, shots, current_status, started_at, attempts)"
            " VALUES ($1, $2, 20, 'processing', now(), 1)",
            task_id,
            BELL,
        )
        await service.db.execute(
            "INSERT INTO status_history (task_id, status, notes) VALUES"
            " ($1, 'pending', 'test'), ($1, 'processing', 'test')",
            task_id,
        )
    service.created.append(task_id)

    await _publish(channel, orjson.dumps({"task_id": str(task_id)}), f"redelivered-{task_id}")

    view = await service.wait_status(task_id, {"completed", "failed"})
    assert view["status"] == "completed"
    assert sum(view["result"].values()) == 20
    history = [row["status"] for row in await service.history(task_id)]
    assert history == ["pending", "processing", "completed"]


async def test_message_for_an_unknown_task_is_acked_not_dead_lettered(
    service: Service, channel: AbstractChannel
) -> None:
    message_id = f"unknown-{uuid.uuid4()}"

    await _publish(channel, orjson.dumps({"task_id": str(uuid.uuid4())}), message_id)
    await _wait_handled(channel)

    assert not await _dead_lettered(channel, message_id, timeout_s=2)
