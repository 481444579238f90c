"""The consumer watch: seeded by the preflight, shared counts, workers the suite brings back."""

from __future__ import annotations

import asyncio

import pytest

from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.tasks import TaskState, wait_for_task_outcome
from qtask_verify.errors import DeploymentFault


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def wait_pending(
    time: FakeTime,
    watch: ConsumerWatch,
    consumers: int,
    *,
    unacknowledged: int | None = None,
    status: str = "pending",
    timeout_s: float = 10.0,
) -> None:
    async def state() -> TaskState:
        return TaskState(status)

    async def count() -> int:
        return consumers

    async def unacked() -> int | None:
        return unacknowledged

    await wait_for_task_outcome(
        "t-1",
        state,
        count,
        queue_name="quantum_tasks",
        timeout_s=timeout_s,
        watch=watch,
        stalled_consumers_s=2.0,
        clock=time.clock,
        sleep=time.sleep,
        read_unacknowledged=unacked,
    )


async def test_an_old_absence_seen_by_the_preflight_fails_the_first_wait_at_once() -> None:
    time = FakeTime()
    watch = ConsumerWatch(time.clock)
    watch.observe(0, at=time.now - 2.5)
    with pytest.raises(DeploymentFault) as raised:
        await wait_pending(time, watch, 0)
    assert time.now == 100.0
    assert raised.value.component == "workers"
    assert "no worker is consuming quantum_tasks (0 consumers for 2.5 s)" in raised.value.diagnosis


async def test_a_recent_absence_is_waited_on_only_for_the_rest_of_the_grace() -> None:
    time = FakeTime()
    watch = ConsumerWatch(time.clock)
    watch.observe(0, at=time.now - 1.5)
    with pytest.raises(DeploymentFault, match="no worker is consuming"):
        await wait_pending(time, watch, 0)
    assert 0.5 <= time.now - 100.0 < 0.6


async def test_a_seeded_absence_is_forgotten_once_a_consumer_is_seen() -> None:
    time = FakeTime()
    watch = ConsumerWatch(time.clock)
    watch.observe(0, at=time.now - 5.0)
    watch.observe(2)
    assert watch.unconsumed_for() == 0.0


async def test_concurrent_waits_share_one_count_of_the_consumers() -> None:
    watch = ConsumerWatch()
    calls = 0

    async def probe() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 2

    counts = await asyncio.gather(*(watch.count(probe) for _ in range(10)))
    assert counts == [2] * 10
    assert calls == 1
    await asyncio.sleep(0.15)  # older than CONSUMER_COUNT_MAX_AGE_S: asked again
    assert await watch.count(probe) == 2
    assert calls == 2


async def test_a_task_held_unacknowledged_by_a_consumer_blames_the_workers() -> None:
    time = FakeTime()
    with pytest.raises(DeploymentFault) as raised:
        await wait_pending(time, ConsumerWatch(time.clock), 2, unacknowledged=2, timeout_s=1.0)
    assert raised.value.component == "workers"
    assert "holding 2 unacknowledged message(s): a worker took a task and did not finish it" in (
        raised.value.diagnosis
    )


async def test_a_task_stuck_in_processing_says_for_how_long() -> None:
    time = FakeTime()
    with pytest.raises(DeploymentFault) as raised:
        await wait_pending(time, ConsumerWatch(time.clock), 1, status="processing", timeout_s=3.0)
    diagnosis = raised.value.diagnosis
    assert diagnosis.startswith("task stayed processing for 3.0 s: the worker that took it")
    assert "a worker took the task and did not finish it (stuck in processing for 3.0 s" in (
        diagnosis
    )


def test_the_watch_remembers_since_when_the_run_has_seen_a_task_finished() -> None:
    now = [10.0]
    watch = ConsumerWatch(clock=lambda: now[0])
    assert watch.finished_for() is None
    watch.task_finished()
    now[0] = 12.5
    watch.task_finished()  # a later finish does not move the first one
    assert watch.finished_for() == 2.5
