"""Consumes `quantum_tasks` with manual acks: at-least-once delivery made safe, in batches.

Deliveries (up to the prefetch) wait in an inbox; one loop takes what has arrived, claims the
batch in one statement, runs the circuits, records all outcomes in one statement, and only then
acks. One commit per batch instead of two per task is most of the worker's throughput; with two
or more worker processes one runs circuits while another waits on the database. Circuits run in
the worker's simulator process (`simulator`), which enforces the execution time limit.

A claimed task shows `processing`, so a batch is no larger than what the worker expects to start
within `worker_claim_window_s`, judged by recent execution times: 16 Bell circuits (milliseconds
each), but one circuit at a time when each takes seconds (a batch of 16 of those used to show
`processing` for a minute while they waited their turn, and, when the worker died, all of them
until another worker got to them). The first batch is one task, before anything is known.

Idempotence comes from the guarded transitions of `TaskStore`: a redelivered message for a task
left in `processing` finishes it without a second `processing` row; a duplicate of a finished
task is acked and ignored; an unknown task is acked and logged. When a worker dies, all it held
comes back redelivered; one query tells which of those tasks it had claimed (they show
`processing`): those run first, each alone, so that none shows `processing` behind a backlog and
a task that kills workers does not drag its batch mates' attempts up. A message that cannot be
parsed, or a task claimed more than `worker_max_attempts` times (it keeps killing workers), is
rejected without requeue into the dead-letter queue, and the task failed.
"""

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from qtask_service.broker.link import BrokerLink
from qtask_service.broker.topology import declare_topology
from qtask_service.db.pool import DatabaseUnavailable
from qtask_service.db.tasks import Outcome, TaskStore
from qtask_service.settings import Settings
from qtask_service.worker.simulator import SimulatorProcess, TaskFailed

log = logging.getLogger(__name__)

T = TypeVar("T")

_DB_RETRY_INTERVAL_S = 1.0
_RECENT_WEIGHT = 0.5  # of the latest execution time in the running estimate


class Abandoned(Exception):
    """Shutdown began while the database was away: leave the messages to be redelivered."""


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
        self._simulator = SimulatorProcess(
            cache_size=settings.circuit_cache_size,
            max_qubits=settings.max_qubits,
            timeout_s=settings.execution_timeout_s,
        )
        self._execution_s: float | None = None  # recent execution time per task, estimated
        self._fresh: collections.deque[AbstractIncomingMessage] = collections.deque()
        self._redelivered: collections.deque[AbstractIncomingMessage] = collections.deque()
        self._orphans: collections.deque[AbstractIncomingMessage] = collections.deque()
        self._arrived = asyncio.Event()
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
        await self._simulator.wait_ready()  # consume only once circuits can run
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._settings.worker_prefetch)
        self._queue = await declare_topology(channel, self._settings)
        self._consumer_tag = await self._queue.consume(self._on_message, no_ack=False)

    def stop(self) -> None:
        """Ask `run` to stop taking messages and finish (signal handlers call this)."""
        self._stopping.set()
        self._arrived.set()

    async def run(self) -> None:
        """Process batches until stopped; the batch in progress is finished first."""
        self._simulator.start()
        self.link.start()  # connects while the simulator loads Qiskit
        try:
            await self._simulator.wait_ready()  # a worker that cannot simulate does not start
            await self._loop()
        finally:
            await self._shut_down()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = await self._next_batch()
            except Abandoned:
                return
            if not batch:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            try:
                await self._process(batch)
            except Abandoned:
                log.info("left %d message(s) unacked for redelivery", len(batch))
                return
            except Exception:
                log.exception("batch of %d message(s) not processed", len(batch))
                await self._give_back(batch)

    async def _shut_down(self) -> None:
        log.info("stopping")
        if self._queue is not None and self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except Exception as exc:  # the broker may be gone; closing requeues anyway
                log.warning("could not cancel the consumer: %s", type(exc).__name__)
        # Closing the connection returns every unacked message (the inbox too) to the queue.
        await self.link.close()
        await self._simulator.close()
        log.info("stopped")

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        (self._redelivered if message.redelivered else self._fresh).append(message)
        self._arrived.set()

    async def _next_batch(self) -> list[AbstractIncomingMessage]:
        """A task left `processing` by a dead worker first, alone; else up to `_batch_limit`."""
        if self._redelivered:
            await self._sort_redelivered()
        if self._orphans:
            return [self._orphans.popleft()]
        limit = self._batch_limit()
        return [self._fresh.popleft() for _ in range(min(limit, len(self._fresh)))]

    async def _sort_redelivered(self) -> None:
        """Orphans are redelivered messages whose task shows `processing`: claimed by a worker
        that died (perhaps of this very task). The others were only prefetched by it, never
        claimed: they rejoin the fresh ones, ahead of them, as they were in the queue."""
        messages = list(self._redelivered)
        self._redelivered.clear()
        task_ids: dict[int, uuid.UUID] = {}
        for index, message in enumerate(messages):
            with contextlib.suppress(ValueError):  # a poison message: handled with the fresh
                task_ids[index] = parse_task_id(message.body)
        wanted = list(set(task_ids.values()))
        statuses = await self._with_database(lambda: self._store.statuses(wanted))
        others = []
        for index, message in enumerate(messages):
            task_id = task_ids.get(index)
            if task_id is not None and statuses.get(task_id) == "processing":
                self._orphans.append(message)
            else:
                others.append(message)
        self._fresh.extendleft(reversed(others))

    def _batch_limit(self) -> int:
        """Tasks to claim at once: what starts within the claim window at recent speeds."""
        if self._execution_s is None:
            return 1
        per_task_s = max(self._execution_s, 1e-6)
        starting_in_window = 1 + int(self._settings.worker_claim_window_s / per_task_s)
        return max(1, min(self._settings.worker_batch_size, starting_in_window))

    async def _process(self, batch: list[AbstractIncomingMessage]) -> None:
        by_task: dict[uuid.UUID, list[AbstractIncomingMessage]] = {}
        for message in batch:
            try:
                by_task.setdefault(parse_task_id(message.body), []).append(message)
            except ValueError as exc:
                log.error("poison message %s (%s): dead-lettered", message.delivery_tag, exc)
                await message.reject(requeue=False)
        if not by_task:
            return
        claims = await self._with_database(lambda: self._store.claim(list(by_task), self._name))
        outcomes: list[Outcome] = []
        settle: list[tuple[AbstractIncomingMessage, bool]] = []  # (message, dead-letter it)
        max_attempts = self._settings.worker_max_attempts
        for task_id, messages in by_task.items():
            # Duplicates within the batch: the first message carries the task, the rest are acked.
            settle.extend((message, False) for message in messages[1:])
            claim = claims.get(task_id)
            if claim is None:
                log.warning("task %s does not exist (deleted?): message acked, dropped", task_id)
            elif not claim.claimed:
                log.info("task %s already %s: duplicate acked", task_id, claim.previous_status)
            elif claim.attempts > max_attempts:
                reason = (
                    f"gave up after {max_attempts} attempts: processing this task stopped "
                    "the worker each time"
                )
                log.error("task %s: %s; dead-lettered", task_id, reason)
                outcomes.append(Outcome(task_id, "failed", error=reason))
                settle.append((messages[0], True))
                continue
            else:
                assert claim.circuit is not None and claim.shots is not None
                outcomes.append(await self._execute(task_id, claim.circuit, claim.shots))
            settle.append((messages[0], False))
        await self._with_database(lambda: self._store.finish(outcomes, self._name))
        for message, dead_letter in settle:
            if dead_letter:
                await message.reject(requeue=False)
            else:
                await message.ack()

    async def _execute(self, task_id: uuid.UUID, circuit: str, shots: int) -> Outcome:
        started = time.perf_counter()
        try:
            return Outcome(task_id, "completed", counts=await self._simulator.run(circuit, shots))
        except TaskFailed as exc:
            log.info("task %s failed: %s", task_id, exc)
            return Outcome(task_id, "failed", error=str(exc))
        finally:
            elapsed = time.perf_counter() - started
            previous = self._execution_s
            self._execution_s = (
                elapsed
                if previous is None
                else _RECENT_WEIGHT * elapsed + (1 - _RECENT_WEIGHT) * previous
            )

    async def _give_back(self, batch: list[AbstractIncomingMessage]) -> None:
        """After an unexpected error: requeue once; a redelivered message is dead-lettered and
        its task failed, so that nothing stays `processing` forever."""
        for message in batch:
            if message.redelivered:
                await self._fail_dead_lettered(message)
            try:
                await message.reject(requeue=not message.redelivered)
            except Exception as exc:  # channel gone: the broker requeues it by itself
                log.warning("could not return message %s: %s", message.delivery_tag, exc)

    async def _fail_dead_lettered(self, message: AbstractIncomingMessage) -> None:
        try:
            task_id = parse_task_id(message.body)
            reason = "processing failed twice with an unexpected error; message dead-lettered"
            await self._store.finish([Outcome(task_id, "failed", error=reason)], self._name)
        except Exception as exc:  # best effort: the message still goes to the dead-letter queue
            log.error("could not mark the task of message %s failed: %s", message.delivery_tag, exc)

    async def _with_database(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`, waiting out a database outage instead of dropping the messages."""
        while True:
            try:
                return await operation()
            except DatabaseUnavailable as exc:
                if self._stopping.is_set():
                    raise Abandoned from exc
                log.warning("database unavailable (%s); retrying", exc)
                await asyncio.sleep(_DB_RETRY_INTERVAL_S)
