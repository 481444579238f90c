"""An API that reports every task's `completed_at` an hour later than the database stores it
(as a service that formats a local time as UTC would); every other field is right.

The real API; the task store's read is patched.
"""

import uuid
from datetime import timedelta
from typing import Any

from qtask_service.api.server import main
from qtask_service.db.tasks import TaskStore

_get = TaskStore.get


async def _an_hour_late(self: TaskStore, task_id: uuid.UUID) -> dict[str, Any] | None:
    row = await _get(self, task_id)
    if row is not None and row.get("completed_at") is not None:
        row["completed_at"] += timedelta(hours=1)
    return row


TaskStore.get = _an_hour_late  # type: ignore[method-assign]
main()
