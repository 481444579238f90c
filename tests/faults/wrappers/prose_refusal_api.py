"""An API that refuses invalid submissions with 400 and stores nothing, but names the invalid
field only in a sentence of its message: no detail a client could act on names it.

The real API; its handler of invalid requests is replaced.
"""

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from qtask_service.api import app
from qtask_service.api.responses import error_response
from qtask_service.api.server import main


async def _refuse_in_prose(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    sentences = [
        f"the {'body' if error.get('type') == 'json_invalid' else error['loc'][-1]} field is "
        f"invalid ({error.get('msg', 'invalid')})"
        for error in exc.errors()
    ]
    return error_response(400, f"Invalid request: {'; '.join(sentences)}.")


app._invalid_request = _refuse_in_prose
main()
