"""An API that takes 0.4 s to answer every read of a task (GET /tasks/{id}), as one whose lookup
scans the table would: submissions and health stay quick, and every answer stays correct.

The real API; its store's read of one task is slowed.
"""

import asyncio
import uuid
from typing import Any

from qtask_service.api.server import main
from qtask_service.db.tasks import TaskStore

SLOW_S = 0.4
_get = TaskStore.get


async def _slow_get(self: TaskStore, task_id: uuid.UUID) -> dict[str, Any] | None:
    await asyncio.sleep(SLOW_S)
    return await _get(self, task_id)


TaskStore.get = _slow_get  # type: ignore[method-assign]
main()
