"""JSON responses serialized by orjson, which also handles UUIDs and datetimes natively."""

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """Faster than the standard library's json, and needs no pre-conversion of values."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(
    status_code: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> OrjsonResponse:
    """The one error shape of the API: `{"status": "error", "message": ..., ...}`."""
    return OrjsonResponse({"status": "error", "message": message, **extra}, status_code, headers)
