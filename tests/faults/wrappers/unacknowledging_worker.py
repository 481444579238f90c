"""A worker that completes every task but never acknowledges its message: the task queue's
unacknowledged messages pile up until the worker disconnects (then they are all redelivered).

The real worker, with a prefetch large enough that the suite's tasks still reach it; the AMQP
client's ack does nothing.
"""

import os

from aio_pika.message import IncomingMessage

from qtask_service.worker.main import main


async def _never_ack(self: IncomingMessage, multiple: bool = False) -> None:
    return None


os.environ["QTASK_SERVICE_WORKER_PREFETCH"] = "1000"
IncomingMessage.ack = _never_ack  # type: ignore[method-assign]
main()
