"""All-or-nothing submission: the task row and its queued message, or neither.

Commit, then publish: a worker can never receive a message for a row it cannot see yet. If the
broker does not confirm, the row is deleted again and the client gets a 503. If that delete fails
too (the database went away at the same moment), the id is kept and the delete retried in the
background until it succeeds, so a task the client was told failed never runs.

Not done: a periodic sweep republishing old `pending` tasks. Without an extra write per task it
cannot tell a never-published task from one waiting behind a backlog; the only window it would
close is the API process dying between the commit and the confirm, and then the client never got
a success answer either.
"""

import asyncio
import contextlib
import logging
import uuid

from qtask_service.broker.link import BrokerUnavailable
from qtask_service.broker.publisher import TaskPublisher
from qtask_service.db.group_commit import GroupCommitter
from qtask_service.db.pool import DatabaseUnavailable
from qtask_service.db.tasks import NewTask, TaskStore

log = logging.getLogger(__name__)

_RETRY_INTERVAL_S = 1.0


class Submissions:
    """Submits tasks; owns the background retry of compensating deletes."""

    def __init__(self, store: TaskStore, publisher: TaskPublisher) -> None:
        self._store = store
        self._inserts = GroupCommitter(store)
        self._publisher = publisher
        self._undeleted: set[uuid.UUID] = set()
        self._retry_task: asyncio.Task[None] | None = None

    async def submit(self, circuit: str, shots: int) -> uuid.UUID:
        """Store and queue a task; raise DatabaseUnavailable or BrokerUnavailable, leaving none."""
        # Fail fast without touching the database while the broker is known to be away.
        self._publisher.link.ensure_connected()
        task_id = uuid.uuid4()
        insert = asyncio.ensure_future(self._inserts.insert(NewTask(task_id, circuit, shots)))
        try:
            await asyncio.shield(insert)
        except asyncio.CancelledError:
            # Cancelled (shutdown) while its group commits: once committed, undo it.
            with contextlib.suppress(Exception):
                await insert
                await self._compensate(task_id)
            raise
        try:
            await self._publisher.publish(task_id)
        except BrokerUnavailable:
            await self._compensate(task_id)
            raise
        except BaseException:
            # Cancelled (client gone, shutdown) after the commit: the message may or may not be
            # out, so do not leave a row behind that might never be processed.
            await asyncio.shield(self._compensate(task_id))
            raise
        return task_id

    async def _compensate(self, task_id: uuid.UUID) -> None:
        try:
            await self._store.delete_unstarted(task_id)
        except DatabaseUnavailable:
            log.warning("could not undo task %s yet; retrying in the background", task_id)
            self._undeleted.add(task_id)
            if self._retry_task is None or self._retry_task.done():
                self._retry_task = asyncio.create_task(self._retry_deletes())

    async def _retry_deletes(self) -> None:
        while self._undeleted:
            await asyncio.sleep(_RETRY_INTERVAL_S)
            for task_id in list(self._undeleted):
                try:
                    await self._store.delete_unstarted(task_id)
                except DatabaseUnavailable:
                    break
                self._undeleted.discard(task_id)
                log.info("undid task %s", task_id)

    async def close(self) -> None:
        """Stop retrying (the process is going away)."""
        if self._retry_task is not None:
            self._retry_task.cancel()
            await asyncio.gather(self._retry_task, return_exceptions=True)
