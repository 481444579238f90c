"""An accepted task lost, run twice or left unfinished is a loss: the fault says so, and the
verdict is NO-GO whatever the scenario's priority."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest

from qtask_verify.checks import tasks
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.tasks import TaskState
from qtask_verify.clients import ApiClient, ApiResponse, BrokerInspector, DatabaseInspector
from qtask_verify.config import Environment, Expectations, Thresholds
from qtask_verify.errors import DeploymentFault
from qtask_verify.run.decision import Decision
from qtask_verify.run.record import Diagnosis, Preflight, Scenario
from qtask_verify.run.verdict import RunFacts, decide


@dataclass(frozen=True)
class LiveState:
    messages: int
    consumers: int


class FakeApi:
    def __init__(self, statuses: dict[str, int | str]) -> None:
        self.statuses = statuses  # task id -> status, or an HTTP code

    async def get_task(self, task_id: str) -> ApiResponse:
        status = self.statuses[task_id]
        if isinstance(status, int):
            return ApiResponse(status, {"status": "error"}, "", 1.0)
        return ApiResponse(200, {"status": status}, "", 1.0)


class FakeBroker:
    def __init__(self, messages: int = 0, consumers: int = 2) -> None:
        self.state = LiveState(messages=messages, consumers=consumers)

    async def live_state(self, queue_name: str) -> LiveState:
        return self.state


@dataclass(frozen=True)
class Row:
    status: str


class FakeDatabase:
    def __init__(self, histories: dict[str, list[str]]) -> None:
        self.histories = histories

    async def fetch_history(self, task_id: str) -> Sequence[Row]:
        return [Row(status) for status in self.histories[task_id]]


def environment() -> Environment:
    return Environment(
        "unit", "http://api", "postgresql://db", "amqp://mq", "http://mq", None, None, True,
        Expectations(), Thresholds(),
    )  # fmt: skip


async def wait(
    statuses: dict[str, int | str], broker_state: FakeBroker | None = None
) -> dict[str, TaskState]:
    api = cast(ApiClient, FakeApi(statuses))
    broker = cast(BrokerInspector, broker_state or FakeBroker())
    return await tasks.wait_for_all(list(statuses), api, broker, environment(), 0.01, "after x")


async def test_an_accepted_task_the_api_no_longer_knows_is_a_loss() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await wait({"a": "completed", "b": 404})
    assert caught.value.loss
    assert caught.value.diagnosis.startswith(
        "1 of 2 accepted task(s) did not finish in 0 s after x (limit 0 s; 1 unknown to the API"
    )


async def test_an_accepted_task_left_pending_is_a_loss() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await wait({"a": "pending"})
    assert caught.value.loss and caught.value.component == "queue"


async def test_tasks_whose_messages_wait_for_absent_workers_are_not_lost() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await wait({"a": "pending", "b": "pending"}, FakeBroker(messages=2, consumers=0))
    assert not caught.value.loss
    assert caught.value.diagnosis.endswith("no worker consumes the queue")


async def test_with_the_watch_pending_tasks_nobody_consumes_end_the_wait_at_once() -> None:
    """Not after the limit: the run's watch has seen the queue unconsumed long enough."""
    api = cast(ApiClient, FakeApi({"a": "pending"}))
    broker = cast(BrokerInspector, FakeBroker(messages=1, consumers=0))
    watch = ConsumerWatch()
    watch.observe(0, at=time.monotonic() - 60.0)
    started = time.monotonic()
    with pytest.raises(DeploymentFault) as caught:
        await tasks.wait_for_all(["a"], api, broker, environment(), 30.0, "after x", watch)
    assert time.monotonic() - started < 5.0
    assert caught.value.diagnosis.endswith("no worker consumes the queue")


async def test_finished_tasks_are_no_loss() -> None:
    states = await wait({"a": "completed", "b": "failed"})
    assert {k: s.status for k, s in states.items()} == {"a": "completed", "b": "failed"}


async def completed_once(states: dict[str, Any], histories: dict[str, list[str]]) -> None:
    database = cast(DatabaseInspector, FakeDatabase(histories))
    await tasks.require_completed_once(list(states), states, database)


async def test_a_task_run_twice_is_a_loss() -> None:
    twice = ["pending", "processing", "completed", "processing", "completed"]
    with pytest.raises(DeploymentFault) as caught:
        await completed_once({"a": TaskState("completed")}, {"a": twice})
    assert caught.value.loss


async def test_a_failed_task_or_a_missing_row_is_not_a_loss() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await completed_once(
            {"a": TaskState("failed", "gave up"), "b": TaskState("completed")},
            {"b": ["pending", "completed"]},
        )
    assert not caught.value.loss
    assert "task a is failed: gave up" in caught.value.diagnosis


async def test_a_task_still_processing_is_a_loss() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await completed_once({"a": TaskState("processing")}, {})
    assert caught.value.loss


def test_a_loss_in_a_p3_scenario_makes_the_verdict_no_go() -> None:
    loss = Diagnosis("workers", "1 of 2 accepted task(s) did not finish", loss=True)
    lost = Scenario(
        "Waiting tasks outlive a broker restart",
        priority="p3",
        outcome="failed",
        diagnosis=loss,
        losses=(loss,),
    )
    verdict = decide(RunFacts(scenarios=[lost], preflight=Preflight(True, 0.1)))
    assert verdict.decision is Decision.NO_GO
    assert verdict.reason.startswith("an accepted task was lost: ")
