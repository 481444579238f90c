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


def test_a_worker_claims_what_it_expects_to_start_within_the_claim_window() -> None:
    consumer = TaskConsumer(
        Settings(worker_claim_window_s=0.5, worker_batch_size=16),
        TaskStore.__new__(TaskStore),
        "test-worker",
    )
    limits = []
    for execution_s in (None, 0.002, 0.2, 3.0):
        consumer._execution_s = execution_s
        limits.append(consumer._batch_limit())

    # Nothing known yet: one; milliseconds: a full batch; 0.2 s: 3 start within 0.5 s; seconds: 1.
    assert limits == [1, 16, 3, 1]
