"""The broker's message tracing (the "firehose"), read: what was published and delivered.

On a vhost whose tracing is on, RabbitMQ copies every publish (routing key ``publish.<exchange>``)
and every delivery to a consumer (``deliver.<queue>``) to the topic exchange
``amq.rabbitmq.trace``, with the original body and, in headers, the exchange, routing keys,
properties (``delivery_mode`` …), the connection and, for a publish, the queues it was routed to.
:class:`MessageTrace` binds a server-named exclusive queue to it and keeps every copy in arrival
order: the suite sees messages without consuming, delaying or changing them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aio_pika
import aiormq
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from ..errors import QtaskVerifyError

TRACE_EXCHANGE = "amq.rabbitmq.trace"
_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class TraceUnavailable(QtaskVerifyError):
    """The trace exchange cannot be read with the suite's account (the reason says why)."""


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _names(value: Any) -> tuple[str, ...]:
    return tuple(_text(v) for v in value) if isinstance(value, list | tuple) else ()


@dataclass(frozen=True)
class TracedMessage:
    """One copy the broker made: a message published to an exchange, or delivered from a queue."""

    event: Literal["publish", "deliver"]
    exchange: str  # "" is the default exchange
    routing_keys: tuple[str, ...]
    routed_queues: tuple[str, ...] | None  # where a publish went (None: the broker did not say)
    queue: str | None  # the queue a delivery came from
    delivery_mode: int | None  # 2: persistent
    redelivered: bool
    connection: str | None  # the publisher's or the consumer's connection
    body: bytes
    properties: Mapping[str, Any]
    seen_at: float  # time.monotonic() when the copy arrived

    def mentions(self, text: str) -> bool:
        """Whether the body or a property carries ``text`` (e.g. a task id), in any encoding of
        the message that keeps it as written (JSON, plain text, a header, ``message_id``)."""
        if text.encode() in self.body:
            return True
        return any(text in _text(value) for value in self.properties.values())

    def uuids(self) -> set[str]:
        """Every UUID the message carries, lower-case: the task ids it may be about."""
        found = {m.decode().lower() for m in _UUID.findall(self.body)}
        for value in self.properties.values():
            found |= {m.decode().lower() for m in _UUID.findall(_text(value).encode())}
        return found

    def goes_to(self, queue: str) -> bool:
        """A publish the broker routed to ``queue`` (by its own account where it gives one, else
        by the default exchange's rule: the routing key is the queue's name)."""
        if self.event != "publish":
            return False
        if self.routed_queues is not None:
            return queue in self.routed_queues
        return self.exchange == "" and queue in self.routing_keys

    @classmethod
    def parse(cls, message: AbstractIncomingMessage, seen_at: float) -> TracedMessage | None:
        key = message.routing_key or ""
        event, _, name = key.partition(".")
        if event not in ("publish", "deliver"):
            return None
        headers = message.headers or {}
        properties = headers.get("properties")
        properties = dict(properties) if isinstance(properties, Mapping) else {}
        mode = properties.get("delivery_mode")
        routed = headers.get("routed_queues")
        return cls(
            event="publish" if event == "publish" else "deliver",
            exchange=_text(headers.get("exchange_name", name if event == "publish" else "")),
            routing_keys=_names(headers.get("routing_keys")),
            routed_queues=_names(routed) if isinstance(routed, list | tuple) else None,
            queue=name if event == "deliver" else None,
            delivery_mode=int(mode) if isinstance(mode, int) else None,
            redelivered=bool(headers.get("redelivered")),
            connection=_text(headers["connection"]) if "connection" in headers else None,
            body=message.body,
            properties=properties,
            seen_at=seen_at,
        )


class MessageTrace:
    """Every message the broker traced on the vhost since :meth:`open`, in arrival order."""

    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self.messages: list[TracedMessage] = []
        self._arrived = asyncio.Condition()

    @classmethod
    async def open(cls, amqp_url: str, timeout_s: float = 5.0) -> MessageTrace:
        """Bind a server-named exclusive queue to the trace exchange and start collecting.

        Raises :class:`TraceUnavailable` when the account may not (RabbitMQ closes the channel
        with ACCESS_REFUSED) or the broker cannot be reached.
        """
        try:
            # Not a robust connection: that one names its queues itself (``amq_…``), which the
            # least-privileged account may not declare; a server-named ``amq.gen-…`` it may.
            connection = await aio_pika.connect(amqp_url, timeout=timeout_s)
        except (TimeoutError, OSError, aiormq.exceptions.AMQPError) as error:
            raise TraceUnavailable(
                f"cannot connect to the broker to read its message trace: "
                f"{error or type(error).__name__}"
            ) from None
        trace = cls(connection)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
            await queue.bind(TRACE_EXCHANGE, "#", timeout=timeout_s)
            await queue.consume(trace._receive, no_ack=True, timeout=timeout_s)
        except (TimeoutError, aiormq.exceptions.AMQPError) as error:
            await connection.close()
            raise TraceUnavailable(
                f"the suite's broker account cannot read {TRACE_EXCHANGE}: "
                f"{error or type(error).__name__} (it needs configure, write and read on a "
                f"server-named queue and read on {TRACE_EXCHANGE})"
            ) from None
        return trace

    async def _receive(self, message: AbstractIncomingMessage) -> None:
        traced = TracedMessage.parse(message, time.monotonic())
        if traced is not None:
            async with self._arrived:
                self.messages.append(traced)
                self._arrived.notify_all()

    async def wait_for(
        self, wanted: Callable[[TracedMessage], bool], timeout_s: float
    ) -> TracedMessage | None:
        """The first traced message ``wanted`` accepts, waiting up to ``timeout_s`` for it."""
        seen = 0

        def found() -> TracedMessage | None:
            nonlocal seen
            match = next((m for m in self.messages[seen:] if wanted(m)), None)
            seen = len(self.messages)
            return match

        try:
            async with asyncio.timeout(timeout_s), self._arrived:
                while (match := found()) is None:
                    await self._arrived.wait()
                return match
        except TimeoutError:
            return None

    def since(self, moment: float) -> list[TracedMessage]:
        """The messages traced at or after ``moment`` (``time.monotonic()``)."""
        return [m for m in self.messages if m.seen_at >= moment]

    async def close(self) -> None:
        await self._connection.close()
