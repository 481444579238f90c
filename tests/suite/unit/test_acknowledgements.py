"""Messages of finished tasks left unacknowledged: judged on counts late enough to show it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qtask_verify.checks.acknowledgements import (
    Unfinished,
    Uptimes,
    held_for_finished,
    judge_acknowledgements,
    slower_refresh,
)
from qtask_verify.errors import DeploymentFault

INTERVAL_S = 1.0


class Broker:
    """A deployment on a fake clock: its counts as functions of the time since the start."""

    def __init__(
        self,
        unacknowledged: Callable[[float], int | None],
        unfinished: Callable[[float], int] = lambda t: 0,
        refresh_s: float | None = INTERVAL_S,
    ) -> None:
        self.now = 0.0
        self._unacknowledged = unacknowledged
        self._unfinished = unfinished
        self._refresh_s = refresh_s
        self.counts_read_at: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def unacknowledged(self) -> int | None:
        self.counts_read_at.append(self.now)
        return self._unacknowledged(self.now)

    async def unfinished(self) -> int:
        return self._unfinished(self.now)

    async def uptimes(self) -> Uptimes:
        if self._refresh_s is None:
            return {}
        renewed = self.now // self._refresh_s * self._refresh_s
        return {"rabbit@a": round(renewed * 1000)}

    async def judge(self) -> str | None:
        return await judge_acknowledgements(
            self.unacknowledged,
            self.unfinished,
            self.uptimes,
            queue_name="quantum_tasks",
            interval_s=INTERVAL_S,
            clock=self.clock,
            sleep=self.sleep,
        )


def test_the_excess_counts_the_most_tasks_that_could_hold_a_message_since_then() -> None:
    unfinished = [Unfinished(0.0, 3), Unfinished(1.0, 1), Unfinished(2.0, 0)]
    assert held_for_finished(2, unfinished, since_s=0.0) == -1
    assert held_for_finished(2, unfinished, since_s=1.5) == 2
    assert held_for_finished(0, [], since_s=0.0) == 0


def test_the_nodes_uptimes_show_how_often_the_figures_are_renewed() -> None:
    every_second = [{"a": 1000, "b": 500}, {"a": 2000, "b": 1500}, {"a": 3000, "b": 2500}]
    assert slower_refresh(every_second, 1.0, waited_s=2.5) is None
    assert slower_refresh([{}, {}], 1.0, waited_s=2.5) is None
    once = [{"a": 1000}, {"a": 1000}, {"a": 6000}]
    assert slower_refresh(once, 1.0, waited_s=2.5) == (
        "the broker's Management API renewed its figures of node a 1 time(s) in 2.5 s, not "
        "every 1 s as the profile's statistics_interval_s says"
    )
    slow = [{"a": 1000, "b": 0}, {"a": 2000, "b": 5000}, {"a": 3000, "b": 10000}]
    assert slower_refresh(slow, 1.0, waited_s=10.5) == (
        "the broker's Management API renewed its figures of node b every 5.0 s at best, not "
        "every 1 s as the profile's statistics_interval_s says"
    )


async def test_a_quiet_deployment_is_verified_after_two_intervals() -> None:
    broker = Broker(lambda t: 0)
    assert await broker.judge() is None
    assert broker.counts_read_at[-1] >= 2 * INTERVAL_S


async def test_messages_held_for_finished_tasks_fail_once_a_later_collection_shows_them() -> None:
    broker = Broker(lambda t: 7)
    with pytest.raises(DeploymentFault) as raised:
        await broker.judge()
    fault = raised.value
    assert fault.component == "workers"
    assert fault.diagnosis.startswith("quantum_tasks still had 7 unacknowledged message(s) ")
    assert fault.diagnosis.endswith(
        "while at most 0 task(s) were pending or processing: the workers hold the messages of "
        "finished tasks without acknowledging them"
    )


async def test_messages_of_pending_or_processing_tasks_are_no_excess() -> None:
    assert await Broker(lambda t: 4, unfinished=lambda t: 4).judge() is None
    # Counted while 5 tasks ran, read when none: the count may describe that moment.
    assert await Broker(lambda t: 5, unfinished=lambda t: 5 if t < 1 else 0).judge() is None


async def test_a_passing_excess_is_not_a_fault() -> None:
    broker = Broker(lambda t: 1 if t < 3 else 0)
    assert await broker.judge() is None


async def test_counts_not_reported_are_not_verified_at_once() -> None:
    broker = Broker(lambda t: None)
    reason = await broker.judge()
    assert reason is not None
    assert reason.startswith("not verified: the broker's Management API reports no count")
    assert broker.now == 0.0


async def test_a_management_api_refreshed_less_often_than_the_profile_says_is_not_trusted() -> None:
    reason = await Broker(lambda t: 7, refresh_s=5.0).judge()
    assert reason is not None
    assert reason.startswith("not verified: the broker's Management API renewed its figures")
    assert reason.endswith("may predate our task")


async def test_without_the_nodes_the_interval_is_trusted() -> None:
    assert await Broker(lambda t: 0, refresh_s=None).judge() is None
