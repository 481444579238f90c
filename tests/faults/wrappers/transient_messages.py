"""An API that publishes task messages non-persistent (delivery mode 1): a broker restart
loses every task still waiting in the queue.

The real API; the AMQP client's publish (under aio-pika and the service alike) is patched.
"""

from typing import Any

import aiormq
from pamqp.commands import Basic

from qtask_service.api.server import main

TRANSIENT = 1
_basic_publish = aiormq.Channel.basic_publish


async def _transient_publish(self: aiormq.Channel, body: bytes, **kwargs: Any) -> Any:
    properties = kwargs.get("properties") or Basic.Properties()
    properties.delivery_mode = TRANSIENT
    return await _basic_publish(self, body, **{**kwargs, "properties": properties})


aiormq.Channel.basic_publish = _transient_publish  # type: ignore[method-assign]
main()
