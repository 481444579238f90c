"""Publishes task messages on one shared confirming channel.

Concurrent requests share the channel: aio-pika matches each publisher confirm to its message,
so confirms of many in-flight submissions overlap instead of queueing behind each other.
"""

import asyncio
import uuid

import orjson
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiormq.exceptions import ChannelNotFoundEntity
from pamqp.commands import Basic

from qtask_service.broker.link import BrokerLink, BrokerUnavailable
from qtask_service.broker.topology import declare_topology
from qtask_service.settings import Settings

PERSISTENT = 2  # AMQP delivery mode: the broker writes the message to disk


class TaskPublisher:
    """Queues `{"task_id": ...}` persistently, mandatory, and waits for the broker's confirm."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._channel: AbstractChannel | None = None
        self._health_channel: AbstractChannel | None = None
        self.link = BrokerLink(
            settings.amqp_url,
            connect_timeout_s=settings.amqp_connect_timeout_s,
            reconnect_interval_s=settings.amqp_reconnect_interval_s,
            on_connected=self._set_up,
            name="qtask-service-api",
        )

    async def _set_up(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare_topology(channel, self._settings)
        self._health_channel = await connection.channel(publisher_confirms=False)
        self._channel = channel

    async def publish(self, task_id: uuid.UUID) -> None:
        """Return once the broker confirmed the message; raise `BrokerUnavailable` otherwise."""
        self.link.ensure_connected()
        channel = self._channel
        if channel is None or channel.is_closed:
            raise BrokerUnavailable("the publishing channel is closed")
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=PERSISTENT,
            message_id=str(task_id),
        )
        try:
            async with asyncio.timeout(self._settings.publish_timeout_s):
                # Straight to the underlying aiormq channel: building an aio-pika Message costs
                # more CPU than the rest of the publish. Confirms, returns (the channel raises
                # on them) and nacks surface as exceptions all the same.
                raw = await channel.get_underlay_channel()
                await raw.basic_publish(
                    orjson.dumps({"task_id": str(task_id)}),
                    exchange="",
                    routing_key=self._settings.queue_name,
                    properties=properties,
                    mandatory=True,
                )
        except Exception as exc:
            # Nack, return (no queue bound), channel loss, or no confirm in time: not queued.
            raise BrokerUnavailable(f"message not confirmed: {type(exc).__name__}") from exc

    async def check(self) -> None:
        """Health: a round trip to the broker that also proves the task queue exists."""
        self.link.ensure_connected()
        if self._health_channel is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        # On the raw channel: a passive declare must not be recorded for the robust restore.
        raw = await self._health_channel.get_underlay_channel()
        try:
            await raw.queue_declare(self._settings.queue_name, passive=True)
        except ChannelNotFoundEntity as exc:
            raise BrokerUnavailable(f"queue {self._settings.queue_name} does not exist") from exc
