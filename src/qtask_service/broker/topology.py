"""Declaration of the task queue and its dead-letter path, exactly as docs/architecture.md fixes.

Both the API and the workers declare it (idempotently), so whichever starts first creates it and
a broker that lost its definitions gets them back on the next reconnect.
"""

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue

from qtask_service.settings import Settings


async def declare_topology(channel: AbstractChannel, settings: Settings) -> AbstractQueue:
    """Declare DLX, DLQ and the task queue; return the task queue."""
    dlx = await channel.declare_exchange(
        settings.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dlq = await channel.declare_queue(settings.dead_letter_queue, durable=True)
    await dlq.bind(dlx, routing_key=settings.dead_letter_queue)
    return await channel.declare_queue(
        settings.queue_name,
        durable=True,
        auto_delete=False,
        arguments={
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": settings.dead_letter_queue,
        },
    )
