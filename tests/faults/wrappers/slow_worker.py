"""A worker that takes longer than the end-to-end limit for every task (it still finishes).

The real worker: it claims and runs each task as usual, then waits `SLOW_S` before it commits
the result, as a worker on an overloaded machine would.
"""

import asyncio

from qtask_service.db.tasks import TaskStore
from qtask_service.worker.main import main

SLOW_S = 15.0  # the contract's end-to-end and processing limits are 10 s
_finish = TaskStore.finish


async def _slow_finish(self: TaskStore, *args: object) -> None:
    await asyncio.sleep(SLOW_S)
    await _finish(self, *args)  # type: ignore[arg-type]


TaskStore.finish = _slow_finish  # type: ignore[method-assign]
main()
