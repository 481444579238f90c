"""An API that hides a broker outage: /health answers healthy (queue connected) whatever the
broker does, and a submission whose message cannot be published is answered 200 all the same,
its row left pending. Every task accepted while the broker is down is lost.

The real API; its broker link, its publisher's health check and its publish are patched.
"""

import logging
import uuid

from qtask_service.api.server import main
from qtask_service.broker.link import BrokerLink, BrokerUnavailable
from qtask_service.broker.publisher import TaskPublisher

log = logging.getLogger("qtask_fault")
_publish = TaskPublisher.publish
_ensure_connected = BrokerLink.ensure_connected


def _never_refuse(self: BrokerLink) -> None:
    """The real link fails a submission at once while the broker is away: not this one."""


async def _always_connected(self: TaskPublisher) -> None:
    """Health: the queue is reported connected without asking the broker."""


async def _publish_or_forget(self: TaskPublisher, task_id: uuid.UUID) -> None:
    try:
        _ensure_connected(self.link)  # fails at once while the broker is away
        await _publish(self, task_id)
    except BrokerUnavailable as error:
        log.warning("task %s accepted without its message: %s", task_id, error)


BrokerLink.ensure_connected = _never_refuse  # type: ignore[method-assign]
TaskPublisher.check = _always_connected  # type: ignore[method-assign]
TaskPublisher.publish = _publish_or_forget  # type: ignore[method-assign]
main()
