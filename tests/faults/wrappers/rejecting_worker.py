"""A worker that rejects every task message without requeueing it: each lands in the
dead-letter queue and its task stays `pending` forever, unclaimed.

The real worker; the handling of a batch of deliveries is patched.
"""

from aio_pika.abc import AbstractIncomingMessage

from qtask_service.worker.consumer import TaskConsumer
from qtask_service.worker.main import main


async def _reject(self: TaskConsumer, batch: list[AbstractIncomingMessage]) -> None:
    for message in batch:
        await message.reject(requeue=False)


TaskConsumer._process = _reject  # type: ignore[method-assign]
main()
