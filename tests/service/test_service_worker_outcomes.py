"""A task whose execution fails ends `failed` with the reason, never stuck: the consumer's side."""

from __future__ import annotations

import uuid

from qtask_service.db.tasks import TaskStore
from qtask_service.settings import Settings
from qtask_service.worker.consumer import TaskConsumer
from qtask_service.worker.simulator import TaskFailed


class _FailingSimulator:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def run(self, source: str, shots: int) -> dict[str, int]:
        raise TaskFailed(self.reason)


def _consumer_with(reason: str) -> TaskConsumer:
    consumer = TaskConsumer(Settings(), TaskStore.__new__(TaskStore), "test-worker")
    consumer._simulator = _FailingSimulator(reason)  # type: ignore[assignment]
    return consumer


async def test_a_failed_execution_fails_the_task_with_its_reason() -> None:
    task_id = uuid.uuid4()
    reason = "the simulation did not finish within 60 s, this service's execution time limit"

    outcome = await _consumer_with(reason)._execute(task_id, "OPENQASM 3.0;", 8)

    assert (outcome.task_id, outcome.status, outcome.error) == (task_id, "failed", reason)
