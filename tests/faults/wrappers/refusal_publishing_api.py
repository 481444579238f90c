"""An API that refuses invalid submissions with a proper 400 and stores nothing, but publishes a
task message for each one anyway (an id of no stored task): only the broker's trace shows it.

The real API; its handler of invalid requests is wrapped.
"""

import uuid

from fastapi import Request
from fastapi.responses import Response

from qtask_service.api import app
from qtask_service.api.server import main

_refuse = app._invalid_request


async def _publish_then_refuse(request: Request, exc: Exception) -> Response:
    await request.app.state.service.publisher.publish(uuid.uuid4())
    return await _refuse(request, exc)


app._invalid_request = _publish_then_refuse
main()
