"""A worker whose handler dies after claiming a task, leaving it `processing` forever.

The real worker; recording a task's outcome never returns, as when a handler's coroutine hangs
on a lost lock: the task is never finished, its message never acked nor redelivered, and the
process lives on, still consuming.
"""

import asyncio

from qtask_service.db.tasks import TaskStore
from qtask_service.worker.main import main


async def _never_finish(self: TaskStore, *args: object) -> None:
    await asyncio.Event().wait()


TaskStore.finish = _never_finish  # type: ignore[method-assign]
main()
