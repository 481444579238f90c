"""Queue diagnoses say what the broker holds next to what was expected."""

from __future__ import annotations

import pytest

from qtask_verify.checks import queue
from qtask_verify.clients import QueueInfo
from qtask_verify.config import Expectations
from qtask_verify.errors import DeploymentFault
from tests.suite.unit.environments import ENVIRONMENT


def test_a_missing_task_queue_names_the_queues_that_exist() -> None:
    lookup = queue.QueueLookup(None, {"circuit_jobs": 1, "circuit_jobs_failed": 0}, "/")
    with pytest.raises(DeploymentFault) as raised:
        queue.existing(lookup, ENVIRONMENT)
    assert raised.value.diagnosis == (
        "queue quantum_tasks does not exist on the broker; vhost / holds: "
        "circuit_jobs (1 consumer), circuit_jobs_failed (0 consumers)"
    )


def test_a_queue_without_dead_lettering_says_so_in_words() -> None:
    found = QueueInfo("circuit_jobs", True, False, {}, "quorum", 1, 0, 0)
    with pytest.raises(DeploymentFault) as raised:
        queue.require_dead_lettering(found, Expectations())
    assert "has no dead-letter exchange" in raised.value.diagnosis
    assert "None" not in raised.value.diagnosis
