"""An API that answers 500 instead of 404 when a task does not exist."""

from typing import Any

from qtask_service.api import routes
from qtask_service.api.responses import OrjsonResponse
from qtask_service.api.server import main

_error_response = routes.error_response


def _error_or_crash(status_code: int, message: str, **extra: Any) -> OrjsonResponse:
    if status_code == 404:
        return OrjsonResponse({"detail": "Internal Server Error"}, 500)
    return _error_response(status_code, message, **extra)


routes.error_response = _error_or_crash
main()
