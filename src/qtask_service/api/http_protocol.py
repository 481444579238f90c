"""uvicorn's httptools protocol with bounds on how a request arrives: head size, head and body time.

uvicorn bounds none of these with httptools (its `h11_max_incomplete_event_size` applies to h11
only, and it has no read timeout at all), so a client could send a megabyte of headers, or hold a
connection for ever by trickling a request. Here:

- a request line and headers over `max_header_bytes` are refused with 431 as soon as the count
  passes the limit, while they still arrive (httptools buffers a header until it is complete, so
  incomplete heads are counted as they are received);
- a request's head must arrive within `request_head_timeout_s` (also a new connection's first
  request), and its body within `request_body_timeout_s` after it: a late request gets 408 and its
  connection is closed. A new connection that sends nothing is closed without an answer.

A refusal is sent, then the connection half-closed and what the client still sends is read and
dropped for a moment (`_LINGER_S`) before closing: closing at once with unread input makes the
kernel reset the connection, which destroys the answer before the client reads it. Idle
keep-alive connections are uvicorn's own `timeout_keep_alive`.
"""

import asyncio
from typing import Any, ClassVar, Literal

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qtask_service.settings import Settings

_Phase = Literal["idle", "head", "body", "done"]
_LINGER_S = 1.0


class _HeadTooLarge(Exception):
    """Raised in a parser callback; httptools turns it into a parser error uvicorn handles."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One connection; the bounds are class attributes set by `bounded_protocol`."""

    max_header_bytes: ClassVar[int]
    head_timeout_s: ClassVar[float]
    body_timeout_s: ClassVar[float]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: _Phase = "idle"
        self._head_bytes = 0
        self._head_too_large = False
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: read and dropped
        super().data_received(data)
        if self._phase == "head" and not self._refused and not self.transport.is_closing():
            # Still no complete head after this chunk: all of it was head.
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, f"request headers larger than {self.max_header_bytes} bytes")

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            return
        if self._head_too_large:
            self._refuse(431, f"request headers larger than {self.max_header_bytes} bytes")
        else:
            super().send_400_response(msg)

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "head"
        self._head_bytes = 0
        self._arm(self.head_timeout_s)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._phase = "body"
        self._arm(self.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = "done"
        self._disarm()
        super().on_message_complete()

    # -- bounds ----------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def _arm(self, timeout_s: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._refused or self.transport.is_closing():
            return
        if self._phase == "idle":
            self.transport.close()  # connected and never sent a byte: nobody to answer
            return
        limit = self.head_timeout_s if self._phase == "head" else self.body_timeout_s
        part = "headers" if self._phase == "head" else "body"
        self._refuse(408, f"the request's {part} did not arrive within {limit:g} s")

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` unless the application already answers, then close the connection."""
        self._disarm()
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete and cycle.response_started
        if cycle is not None and not cycle.response_complete:
            # The application's receive() now sees a disconnect and its sends are dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        if answering:
            self.transport.close()
            return
        self._refused = True
        self.transport.write(_raw_error(status, reason))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_S, self.transport.close)


def _raw_error(status: int, reason: str) -> bytes:
    titles = {408: "Request Timeout", 431: "Request Header Fields Too Large"}
    body = orjson.dumps({"status": "error", "message": f"{titles[status]}: {reason}."})
    head = (
        f"HTTP/1.1 {status} {titles[status]}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def bounded_protocol(settings: Settings) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, with the settings' bounds."""
    return type(
        "ConfiguredHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_header_bytes": settings.max_header_bytes,
            "head_timeout_s": settings.request_head_timeout_s,
            "body_timeout_s": settings.request_body_timeout_s,
        },
    )
