"""ASGI middleware refusing request bodies over a size limit before reading them whole.

A declared Content-Length over the limit is refused without reading a byte; a chunked body is
read only up to the limit. The refusal is the API's 400 with the field `body` named.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qtask_service.api.responses import error_response


class BodyLimitMiddleware:
    """Buffers at most `max_bytes` of a request body, then replays it to the application."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            400,
            "Invalid request.",
            details=[
                {
                    "field": "body",
                    "message": f"request body larger than {self._max_bytes} bytes",
                    "type": "body_too_large",
                }
            ],
        )
        await response(scope, receive, send)
