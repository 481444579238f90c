"""A RabbitMQ connection that a process can start without the broker and that heals itself.

aio-pika's robust connection reconnects once it has connected, but its first connect fails when
the broker is down; this link retries that first connect in the background, so the API and the
workers start in any order and report the broker as unavailable meanwhile.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractRobustConnection

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """RabbitMQ cannot be reached, refused the message or did not confirm it in time."""


class BrokerLink:
    """Owns one robust connection; `on_connected` sets up channels once it first connects."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float,
        reconnect_interval_s: float,
        on_connected: Callable[[AbstractRobustConnection], Awaitable[None]],
        name: str,
    ) -> None:
        self._url = url
        self._connect_timeout_s = connect_timeout_s
        self._reconnect_interval_s = reconnect_interval_s
        self._on_connected = on_connected
        self._name = name
        self._connection: AbstractRobustConnection | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin connecting in the background."""
        self._task = asyncio.create_task(self._connect_until_up(), name=f"{self._name}-connect")

    async def wait_ready(self) -> None:
        """Wait until the first connection and its set-up succeeded."""
        await self._ready.wait()

    def ensure_connected(self) -> None:
        """Raise `BrokerUnavailable` at once while there is no open connection."""
        connection = self._connection
        transport = connection.transport if connection is not None else None
        if transport is None or transport.connection.is_closed:
            raise BrokerUnavailable("not connected to RabbitMQ")

    async def close(self) -> None:
        """Stop connecting and close the connection (unacked deliveries return to the queue)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    async def _connect_until_up(self) -> None:
        while True:
            try:
                connection = await aio_pika.connect_robust(
                    self._url,
                    timeout=self._connect_timeout_s,
                    reconnect_interval=self._reconnect_interval_s,
                    client_properties={"connection_name": self._name},
                )
            except Exception as exc:
                log.warning("RabbitMQ not reachable yet (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._reconnect_interval_s)
                continue
            try:
                await self._on_connected(connection)
            except Exception as exc:
                log.warning("RabbitMQ set-up failed (%s: %s); retrying", type(exc).__name__, exc)
                await connection.close()
                await asyncio.sleep(self._reconnect_interval_s)
                continue
            self._connection = connection
            self._ready.set()
            log.info("connected to RabbitMQ")
            return
