"""Group commit of submissions: concurrent requests share one INSERT statement and one commit.

A request enqueues its task and awaits the commit. While no insert is in flight the first
request is written at once (no added latency when idle); under load, whatever queued up during
the previous insert goes in the next one. A failed insert fails every request of its group
(each answers 503 and stored nothing, since the group was one transaction).
"""

import asyncio

from qtask_service.db.tasks import NewTask, TaskStore

_MAX_GROUP = 256
_MAX_IN_FLIGHT = 2  # two groups overlap: one commits while the next one fills


class GroupCommitter:
    """Batches `TaskStore.insert` across concurrent callers."""

    def __init__(self, store: TaskStore) -> None:
        self._store = store
        self._waiting: list[tuple[NewTask, asyncio.Future[None]]] = []
        self._in_flight = 0

    async def insert(self, task: NewTask) -> None:
        """Return once the task is committed; raise what the group's insert raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((task, done))
        self._flush()
        await done

    def _flush(self) -> None:
        if self._waiting and self._in_flight < _MAX_IN_FLIGHT:
            group, self._waiting = self._waiting[:_MAX_GROUP], self._waiting[_MAX_GROUP:]
            self._in_flight += 1
            asyncio.create_task(self._write(group))  # noqa: RUF006 (completion awaited via futures)

    async def _write(self, group: list[tuple[NewTask, asyncio.Future[None]]]) -> None:
        try:
            await self._store.insert([task for task, _ in group])
        except Exception as exc:
            for _, done in group:
                if not done.done():
                    done.set_exception(exc)
        else:
            for _, done in group:
                if not done.done():
                    done.set_result(None)
        finally:
            self._in_flight -= 1
            self._flush()
