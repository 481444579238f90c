"""An API that stores each task and answers 200 but never publishes its message: every
accepted task stays `pending` forever, while the queue and its workers sit idle.

The real API; the publisher's publish is patched.
"""

import uuid

from qtask_service.api.server import main
from qtask_service.broker.publisher import TaskPublisher


async def _forget(self: TaskPublisher, task_id: uuid.UUID) -> None:
    """Nothing is published, and nothing says so."""


TaskPublisher.publish = _forget  # type: ignore[method-assign]
main()
