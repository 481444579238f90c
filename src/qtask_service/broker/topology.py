"""Declaration of the task queue and its dead-letter path, as docs/architecture.md fixes them.

Both the API and the workers declare it (idempotently), so whichever starts first creates it and
a broker that lost its definitions gets them back on the next reconnect. The names and the queue
type are settings: the reference's classic `quantum_tasks` with `quantum_tasks.dlx` and
`quantum_tasks.dlq`, or the variant's quorum queues under other names.

A quorum queue dead-letters a rejected message as a classic one does (at most once, to the
queue's dead-letter exchange); it also counts deliveries (`x-delivery-count`), and with
`x-delivery-limit` dead-letters a message delivered more often, which the settings keep above
the worker's own attempt limit, so that the worker fails the task first. Everything here needs
configure, write and read permission on the vhost's own names only.
"""

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue

from qtask_service.settings import Settings


def queue_arguments(settings: Settings) -> dict[str, Any]:
    """The task queue's arguments: dead-lettering, and the queue type with its delivery limit."""
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": settings.dead_letter_exchange,
        "x-dead-letter-routing-key": settings.dead_letter_routing_key,
    }
    if settings.queue_type == "quorum":
        arguments["x-queue-type"] = "quorum"
        if settings.queue_delivery_limit is not None:
            arguments["x-delivery-limit"] = settings.queue_delivery_limit
    return arguments


async def declare_topology(channel: AbstractChannel, settings: Settings) -> AbstractQueue:
    """Declare DLX, DLQ and the task queue; return the task queue."""
    dlx = await channel.declare_exchange(
        settings.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead_letter_arguments: dict[str, Any] | None = (
        {"x-queue-type": "quorum"} if settings.queue_type == "quorum" else None
    )
    dlq = await channel.declare_queue(
        settings.dead_letter_queue, durable=True, arguments=dead_letter_arguments
    )
    await dlq.bind(dlx, routing_key=settings.dead_letter_routing_key)
    return await channel.declare_queue(
        settings.queue_name,
        durable=True,
        auto_delete=False,
        arguments=queue_arguments(settings),
    )
