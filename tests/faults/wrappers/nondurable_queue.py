"""The API or a worker (`python3 nondurable_queue.py api|worker`) declaring the task queue
non-durable, as a misconfigured deployment would: a broker restart loses the queue.

The real service; aio-pika's queue declaration is patched for the task queue only.
"""

import sys
from typing import Any

from aio_pika.abc import AbstractQueue
from aio_pika.channel import Channel

from qtask_service.settings import Settings

_declare_queue = Channel.declare_queue
TASK_QUEUE = Settings().queue_name


async def _declare_non_durable(
    self: Channel, name: str | None = None, **kwargs: Any
) -> AbstractQueue:
    if name == TASK_QUEUE:
        kwargs["durable"] = False
    return await _declare_queue(self, name, **kwargs)


Channel.declare_queue = _declare_non_durable  # type: ignore[method-assign]
if sys.argv[1] == "api":
    from qtask_service.api.server import main
else:
    from qtask_service.worker.main import main
main()
