"""A worker that acknowledges every task message on receipt and drops it: no task is ever
claimed, each stays `pending` forever, and nothing is left in any queue to redeliver.

The real worker; the handling of a batch of deliveries is patched.
"""

from aio_pika.abc import AbstractIncomingMessage

from qtask_service.worker.consumer import TaskConsumer
from qtask_service.worker.main import main


async def _drop(self: TaskConsumer, batch: list[AbstractIncomingMessage]) -> None:
    for message in batch:
        await message.ack()


TaskConsumer._process = _drop  # type: ignore[method-assign]
main()
