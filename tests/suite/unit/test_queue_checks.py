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
    found = QueueInfo("circuit_jobs", True, False, {}, "quorum", 1, 0)
    with pytest.raises(DeploymentFault) as raised:
        queue.require_dead_lettering(found, Expectations())
    assert "has no dead-letter exchange" in raised.value.diagnosis
    assert "None" not in raised.value.diagnosis


def _queue(arguments: dict[str, object], **policy: object) -> QueueInfo:
    return QueueInfo("quantum_tasks", True, False, arguments, "classic", 2, 0, **policy)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "said"),
    [
        (
            _queue({}, policy="ops-ttl", effective_policy={"message-ttl": 60000}),
            "message-ttl 60000 (policy ops-ttl, or the queue's arguments)",
        ),
        (_queue({"x-max-length": 100}), "max-length 100 with overflow drop-head"),
        (
            _queue({}, operator_policy="cap", effective_policy={"expires": 3600000}),
            "expires 3600000 (policy cap, or the queue's arguments)",
        ),
    ],
    ids=["ttl-by-policy", "max-length-argument", "expires-by-operator-policy"],
)
def test_a_setting_that_can_drop_a_waiting_task_is_named(found: QueueInfo, said: str) -> None:
    with pytest.raises(DeploymentFault) as raised:
        queue.require_no_loss_by_settings(found)
    assert raised.value.diagnosis.startswith("queue quantum_tasks can drop or expire accepted")
    assert said in raised.value.diagnosis


def test_settings_that_lose_nothing_pass() -> None:
    queue.require_no_loss_by_settings(_queue({"x-dead-letter-exchange": "dlx"}))
    queue.require_no_loss_by_settings(_queue({"x-max-length": 100, "x-overflow": "reject-publish"}))
    queue.require_no_loss_by_settings(_queue({}, effective_policy={"delivery-limit": 10}))
