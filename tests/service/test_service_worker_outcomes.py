"""A task whose execution breaks in an unexpected way ends `failed` with the reason, never stuck."""

from __future__ import annotations

import uuid

from qtask_service.db.tasks import TaskStore
from qtask_service.executor import InvalidCircuit
from qtask_service.settings import Settings
from qtask_service.worker.consumer import TaskConsumer


class _BrokenSimulator:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, source: str, shots: int) -> dict[str, int]:
        raise self.error


def _consumer_with(error: Exception) -> TaskConsumer:
    consumer = TaskConsumer(Settings(), TaskStore.__new__(TaskStore), "test-worker")
    consumer._executor = _BrokenSimulator(error)  # type: ignore[assignment]
    return consumer


def test_an_unexpected_simulator_error_fails_the_task_with_its_reason() -> None:
    task_id = uuid.uuid4()
    outcome = _consumer_with(RuntimeError("out of memory"))._execute(task_id, "OPENQASM 3.0;", 8)
    assert (outcome.task_id, outcome.status) == (task_id, "failed")
    assert outcome.error == "the simulator failed: out of memory"


def test_an_invalid_circuit_fails_the_task_with_the_parser_message() -> None:
    outcome = _consumer_with(InvalidCircuit("line 3: unknown gate"))._execute(uuid.uuid4(), "x", 8)
    assert (outcome.status, outcome.error) == ("failed", "line 3: unknown gate")
