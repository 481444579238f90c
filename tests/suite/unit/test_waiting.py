"""Bounded waiting: backoff, timelines, and diagnoses that name the broken component."""

from __future__ import annotations

import pytest

from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.tasks import TaskState, wait_for_task_outcome
from qtask_verify.errors import DeploymentFault
from qtask_verify.waiting import Timeline, backoff_delays, poll_until


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def script(*values: object):  # type: ignore[no-untyped-def]
    """An async probe returning ``values`` in turn, then the last one forever."""
    remaining = list(values)

    async def probe():  # type: ignore[no-untyped-def]
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return probe


async def wait(
    time: FakeTime,
    states: list[TaskState],
    consumers: list[int | None],
    *,
    timeout_s: float = 10.0,
    watch: ConsumerWatch | None = None,
):  # type: ignore[no-untyped-def]
    return await wait_for_task_outcome(
        "t-1",
        script(*states),
        script(*consumers),
        queue_name="quantum_tasks",
        timeout_s=timeout_s,
        watch=watch or ConsumerWatch(time.clock),
        stalled_consumers_s=2.0,
        clock=time.clock,
        sleep=time.sleep,
    )


def test_backoff_starts_small_and_is_capped() -> None:
    next_delay = backoff_delays(0.02, 0.25, 1.5)
    delays = [next_delay() for _ in range(10)]
    assert delays[0] == pytest.approx(0.02)
    assert delays[1] == pytest.approx(0.03)
    assert max(delays) == 0.25
    assert delays == sorted(delays)


def test_timeline_keeps_a_repeated_observation_once() -> None:
    time = FakeTime()
    timeline = Timeline(time.clock)
    timeline.note("pending")
    time.now += 0.5
    timeline.note("pending")
    time.now += 0.5
    timeline.note("completed")
    assert [(o.t_s, o.observation) for o in timeline.observations] == [
        (0.0, "pending"),
        (1.0, "completed"),
    ]


async def test_poll_until_returns_as_soon_as_done() -> None:
    time = FakeTime()
    result = await poll_until(
        script(0, 1, 2), lambda v: v == 2, 5.0, clock=time.clock, sleep=time.sleep
    )
    assert (result.value, result.satisfied) == (2, True)
    assert len(time.sleeps) == 2


async def test_poll_until_gives_up_at_the_timeout_with_the_last_value() -> None:
    time = FakeTime()
    result = await poll_until(script(7), lambda v: v == 0, 1.0, clock=time.clock, sleep=time.sleep)
    assert (result.value, result.satisfied) == (7, False)
    assert result.elapsed_s == pytest.approx(1.0)


async def test_completed_task_returns_its_state_and_timeline() -> None:
    time = FakeTime()
    outcome = await wait(
        time,
        [TaskState("pending"), TaskState("processing"), TaskState("completed")],
        [2],
    )
    assert outcome.state.status == "completed"
    assert [o.observation for o in outcome.timeline] == [
        "task pending, quantum_tasks has 2 consumers",
        "task processing, quantum_tasks has 2 consumers",
        "task completed, quantum_tasks has 2 consumers",
    ]


async def test_failed_task_is_an_outcome_not_a_timeout() -> None:
    outcome = await wait(FakeTime(), [TaskState("failed", "syntax error")], [1])
    assert outcome.state.error == "syntax error"


async def test_pending_without_consumers_fails_fast_naming_the_workers() -> None:
    time = FakeTime()
    with pytest.raises(DeploymentFault) as raised:
        await wait(time, [TaskState("pending")], [0], timeout_s=10.0)
    fault = raised.value
    assert fault.component == "workers"
    assert "no worker is consuming quantum_tasks (0 consumers for 2." in fault.diagnosis
    assert time.now - 100.0 < 2.5  # gave up after the grace, long before the timeout
    assert fault.timeline[0].observation == "task pending, quantum_tasks has 0 consumers"


async def test_a_later_wait_fails_at_once_while_the_queue_stays_unconsumed() -> None:
    time = FakeTime()
    watch = ConsumerWatch(time.clock)
    with pytest.raises(DeploymentFault):
        await wait(time, [TaskState("pending")], [0], watch=watch)
    started = time.now
    with pytest.raises(DeploymentFault, match="no worker is consuming"):
        await wait(time, [TaskState("pending")], [0], watch=watch)
    assert time.now == started


async def test_a_returning_consumer_resets_the_watch() -> None:
    time = FakeTime()
    watch = ConsumerWatch(time.clock)
    watch.observe(0)
    time.now += 5
    watch.observe(1)
    assert watch.unconsumed_for() == 0.0
    outcome = await wait(time, [TaskState("pending"), TaskState("completed")], [0], watch=watch)
    assert outcome.state.status == "completed"


async def test_task_stuck_in_processing_blames_a_crashed_or_hung_worker() -> None:
    time = FakeTime()
    with pytest.raises(DeploymentFault) as raised:
        await wait(time, [TaskState("processing")], [1], timeout_s=3.0)
    assert raised.value.component == "workers"
    assert raised.value.diagnosis.startswith("task stayed processing for 3.0 s: the worker")
    assert time.now - 100.0 == pytest.approx(3.0)


async def test_pending_with_consumers_blames_the_queue() -> None:
    with pytest.raises(DeploymentFault) as raised:
        await wait(FakeTime(), [TaskState("pending")], [2], timeout_s=1.0)
    assert raised.value.component == "queue"
    assert "did not reach a worker" in raised.value.diagnosis


async def test_missing_task_queue_is_named() -> None:
    with pytest.raises(DeploymentFault) as raised:
        await wait(FakeTime(), [TaskState("pending")], [None], timeout_s=1.0)
    assert raised.value.component == "queue"
    assert "queue quantum_tasks does not exist" in raised.value.diagnosis


async def test_task_unknown_to_the_api_blames_the_api() -> None:
    with pytest.raises(DeploymentFault) as raised:
        await wait(FakeTime(), [TaskState(None)], [1], timeout_s=1.0)
    assert raised.value.component == "api"
