"""Consumes `quantum_tasks` with manual acks: at-least-once delivery made safe.

Every message is handled in its own asyncio task (up to the prefetch), so the database round
trips of some tasks overlap the execution of another. Circuits run on the event loop's thread:
measured here, handing them to a thread cost twice the CPU per task (GIL hand-offs on top of
Aer's own job thread), and a simulation blocks the loop for milliseconds, far below the AMQP
heartbeat. A message is acked only after the transition it caused is committed.

Idempotence comes from the guarded transitions of `TaskStore`: a redelivered message for a task
left in `processing` finishes it without a second `processing` row; a duplicate of a finished
task is acked and ignored; an unknown task is acked and logged. A message that cannot be parsed,
or a task that was claimed more than `worker_max_attempts` times (it keeps killing workers), is
rejected without requeue into the dead-letter queue, and the task is failed with the reason.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from qtask_service.broker.link import BrokerLink
from qtask_service.broker.topology import declare_topology
from qtask_service.db.pool import DatabaseUnavailable
from qtask_service.db.tasks import TaskStore
from qtask_service.executor import CircuitExecutor, InvalidCircuit
from qtask_service.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

_DB_RETRY_INTERVAL_S = 1.0


class Abandoned(Exception):
    """Shutdown began while the database was away: leave the message to be redelivered."""


def parse_task_id(body: bytes) -> uuid.UUID:
    """The task id of a message body `{"task_id": "<uuid>"}`; ValueError when it has none."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("task_id"), str):
        raise ValueError('body is not an object with a string "task_id"')
    return uuid.UUID(payload["task_id"])


class TaskConsumer:
    """One worker process's consumer; `run` until `stop` is called."""

    def __init__(self, settings: Settings, store: TaskStore, name: str) -> None:
        self._settings = settings
        self._store = store
        self._name = name
        self._executor = CircuitExecutor(settings.circuit_cache_size)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self.link = BrokerLink(
            settings.amqp_url,
            connect_timeout_s=settings.amqp_connect_timeout_s,
            reconnect_interval_s=settings.amqp_reconnect_interval_s,
            on_connected=self._set_up,
            name=name,
        )

    async def _set_up(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._settings.worker_prefetch)
        self._queue = await declare_topology(channel, self._settings)
        self._consumer_tag = await self._queue.consume(self._on_message, no_ack=False)

    def stop(self) -> None:
        """Ask `run` to stop taking messages and finish (signal handlers call this)."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until stopped, then let in-flight tasks finish within the grace period."""
        self.link.start()
        await self._stopping.wait()
        log.info("stopping: %d task(s) in flight", len(self._in_flight))
        if self._queue is not None and self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except Exception as exc:  # the broker may be gone; closing requeues anyway
                log.warning("could not cancel the consumer: %s", type(exc).__name__)
        if self._in_flight:
            _, unfinished = await asyncio.wait(
                self._in_flight, timeout=self._settings.worker_shutdown_grace_s
            )
            for task in unfinished:
                task.cancel()
        # Closing the connection returns every unacked message to the queue.
        await self.link.close()
        log.info("stopped")

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.create_task(self._handle(message))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            await self._process(message)
        except Abandoned:
            log.info("left message %s unacked for redelivery", message.delivery_tag)
        except Exception:
            # Ack failures (channel lost) included: the message is redelivered and handled
            # idempotently; never let one message kill the consumer.
            log.exception("message %s not settled", message.delivery_tag)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        try:
            task_id = parse_task_id(message.body)
        except ValueError as exc:
            log.error("poison message %s (%s): dead-lettered", message.delivery_tag, exc)
            await message.reject(requeue=False)
            return
        claim = await self._with_database(lambda: self._store.claim(task_id, self._name))
        if claim is None:
            log.warning("task %s does not exist (deleted?): message acked and dropped", task_id)
            await message.ack()
            return
        if not claim.claimed:
            log.info("task %s already %s: duplicate acked", task_id, claim.previous_status)
            await message.ack()
            return
        max_attempts = self._settings.worker_max_attempts
        if claim.attempts > max_attempts:
            reason = (
                f"gave up after {max_attempts} attempts: processing this task stopped the "
                "worker each time"
            )
            await self._with_database(lambda: self._store.fail(task_id, reason, self._name))
            log.error("task %s: %s; dead-lettered", task_id, reason)
            await message.reject(requeue=False)
            return
        assert claim.circuit is not None and claim.shots is not None
        try:
            counts = self._executor.run(claim.circuit, claim.shots)
        except InvalidCircuit as exc:
            error = str(exc)
            await self._with_database(lambda: self._store.fail(task_id, error, self._name))
            log.info("task %s failed: %s", task_id, error)
        else:
            await self._with_database(lambda: self._store.complete(task_id, counts, self._name))
        await message.ack()

    async def _with_database(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`, waiting out a database outage instead of dropping the message."""
        while True:
            try:
                return await operation()
            except DatabaseUnavailable as exc:
                if self._stopping.is_set():
                    raise Abandoned from exc
                log.warning("database unavailable (%s); retrying", exc)
                await asyncio.sleep(_DB_RETRY_INTERVAL_S)
