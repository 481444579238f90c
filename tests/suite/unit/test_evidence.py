"""Diagnoses of a task that does not finish say what the deployment showed, and end the wait
early only when that evidence is conclusive."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import pytest

from qtask_verify.checks import evidence, results, tasks
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.checks.evidence import Live, Overdue, Record
from qtask_verify.checks.tasks import StoredTask, TaskState, wait_for_task_outcome
from qtask_verify.checks.views import clock_time
from qtask_verify.clients import ApiClient, ApiResponse, BrokerInspector, QueueState, TaskRow
from qtask_verify.clients.broker import QueueSeries
from qtask_verify.config import Environment, Expectations, Thresholds
from qtask_verify.errors import DeploymentFault

TASK = "6f1c1e0a-0000-4000-8000-000000000001"
NOW = 1_800_000_000.0  # the wall clock of the fakes (s)
SUBMITTED = datetime.fromtimestamp(NOW - 0.5, UTC)


def row(status: str = "pending") -> TaskRow:
    return TaskRow(TASK, "OPENQASM 3.0;", 1024, status, SUBMITTED, None, None, None, None)


def series(unacknowledged: int = 0, *, messages: int | None = None) -> QueueSeries:
    """Figures whose length samples, one a second up to NOW, hold ``messages``."""
    lengths = [] if messages is None else [(NOW - 10 + i, messages) for i in range(11)]
    return QueueSeries(0, unacknowledged, 2, lengths)


@dataclass
class FakeSources:
    live_state: Live | None = field(default_factory=lambda: Live(0, 2, 0))
    queue: QueueSeries | None = field(default_factory=series)
    dead_letters: QueueSeries | None = field(default_factory=lambda: series(messages=0))
    stored: Record | None = field(default_factory=lambda: Record(row(), ["pending"]))
    settings: list[str] | None = field(default_factory=list)
    counted: bool = True
    # The task queue's counts when the wait begins, then at every later read.
    counts: list[dict[str, int] | None] = field(default_factory=lambda: [{}, {}])

    async def live(self) -> Live | None:
        return self.live_state

    async def series(self, queue: str, window_s: float) -> QueueSeries | None:
        return self.dead_letters if queue.endswith(".dlq") else self.queue

    async def counters(self) -> dict[str, int] | None:
        return self.counts.pop(0) if len(self.counts) > 1 else self.counts[0]

    async def record(self) -> Record | None:
        return self.stored

    async def losses(self) -> list[str] | None:
        return self.settings

    async def counts_messages(self) -> bool:
        return self.counted


LAG_S = 6.0


def overdue(sources: FakeSources) -> Overdue:
    """The evidence about the task, its wait begun (so it must be made inside a running loop)."""
    watch = Overdue(
        TASK,
        "quantum_tasks",
        "quantum_tasks.dlq",
        sources,
        statistics_lag_s=LAG_S,
        wall_clock=lambda: NOW,
    )
    watch.begin()
    return watch


async def test_nothing_is_gathered_while_the_task_is_not_overdue() -> None:
    sources = FakeSources(live_state=None)
    watch = overdue(sources)
    assert await watch.look("pending", evidence.EVIDENCE_AFTER_S / 2) is None
    assert watch.live is None


async def test_a_message_dead_lettered_while_the_task_waits_is_named_early() -> None:
    sources = FakeSources(live_state=Live(0, 2, 1))
    found = await overdue(sources).look("pending", 1.2)
    assert found is not None
    assert found.component == "workers"
    assert found.diagnosis == (
        f"the dead-letter queue quantum_tasks.dlq gained 1 message while task {TASK} stayed "
        "pending for 1.2 s, with quantum_tasks at 0 ready, 0 unacknowledged and 2 consumers: no "
        "setting of quantum_tasks expires or drops messages, so a consumer rejected it without "
        f"requeueing (the database holds it pending, submitted at {clock_time(SUBMITTED)}"
        ", history pending)"
    )


async def test_a_dead_letter_the_samples_already_show_is_seen_from_the_depth_at_the_start() -> None:
    sources = FakeSources(live_state=Live(0, 2, 0), dead_letters=series(messages=1))
    watch = overdue(sources)  # begins while the dead-letter queue holds 0
    await asyncio.sleep(0)
    sources.live_state = Live(0, 2, 1)
    found = await watch.look("pending", 1.0)
    assert found is not None and "gained 1 message while task" in found.diagnosis


async def test_dead_lettering_by_a_queue_setting_blames_the_queue() -> None:
    setting = "message-ttl 1 (policy short, or the queue's arguments)"
    sources = FakeSources(live_state=Live(0, 2, 3), settings=[setting])
    found = await overdue(sources).look("pending", 1.0)
    assert found is not None and found.component == "queue"
    assert "gained 3 messages" in found.diagnosis
    assert f"quantum_tasks has settings that expire or drop messages: {setting}" in (
        found.diagnosis
    )


async def test_a_message_held_unacknowledged_is_no_evidence_of_dead_lettering() -> None:
    sources = FakeSources(live_state=Live(0, 2, 1), queue=series(unacknowledged=1))
    assert await overdue(sources).look("pending", 7.0) is None


async def test_a_waiting_message_leaves_the_wait_alone() -> None:
    sources = FakeSources(live_state=Live(1, 2, 1))
    assert await overdue(sources).look("pending", 7.0) is None


async def test_figures_read_before_the_statistics_lag_are_not_evidence() -> None:
    sources = FakeSources()
    assert await overdue(sources).look("pending", LAG_S - 1) is None


COUNTED = {"publish": 4, "ack": 4}


async def test_no_message_anywhere_and_none_published_blames_the_api() -> None:
    sources = FakeSources(counts=[COUNTED, COUNTED])
    found = await overdue(sources).look("pending", LAG_S + 0.1)
    assert found is not None and found.component == "api"
    assert found.diagnosis.startswith(
        f"task {TASK} stayed pending for 6.1 s while quantum_tasks had 2 consumers and neither "
        "ready nor unacknowledged messages (the Management API's figures read 6.1 s after the "
        "wait began), and the broker counted no message published to it since the wait began: "
        "the API did not queue its message; the database holds it pending"
    )


async def test_a_broker_that_never_counted_a_publish_counts_as_none() -> None:
    found = await overdue(FakeSources()).look("pending", 6.5)
    assert found is not None and found.component == "api"


async def test_a_published_message_that_is_nowhere_blames_the_queue() -> None:
    sources = FakeSources(counts=[COUNTED, {"publish": 5, "ack": 4}])
    found = await overdue(sources).look("pending", 6.5)
    assert found is not None and found.component == "queue"
    assert (
        "its message is not in the queue (the broker counted 1 message published to it and 0 "
        "acknowledged since the wait began)"
    ) in found.diagnosis


async def test_a_published_message_acknowledged_without_the_task_started_blames_the_workers() -> (
    None
):
    sources = FakeSources(counts=[COUNTED, {"publish": 5, "ack": 5}])
    found = await overdue(sources).look("pending", 6.5)
    assert found is not None and found.component == "workers"
    assert (
        "and the broker counted 1 message published to it and 1 acknowledged since the wait "
        "began: a consumer acknowledged its message without starting the task"
    ) in found.diagnosis


@pytest.mark.parametrize(
    ("counts", "counted"),
    [([{}, {}], False), ([COUNTED, {"publish": 1, "ack": 1}], True), ([None, COUNTED], True)],
    ids=["counters off", "counters reset", "counters unreadable"],
)
async def test_without_counts_no_cause_beyond_what_was_seen(
    counts: list[dict[str, int] | None], counted: bool
) -> None:
    found = await overdue(FakeSources(counted=counted, counts=counts)).look("pending", 6.5)
    assert found is not None and found.component == "queue"
    assert "its message is not in the queue; the database holds it pending" in found.diagnosis


async def test_a_database_that_holds_another_status_blames_the_api() -> None:
    sources = FakeSources(stored=Record(row("completed"), ["pending", "processing", "completed"]))
    found = await overdue(sources).look("pending", 6.5)
    assert found is not None and found.component == "api"
    assert found.diagnosis.startswith(
        f"the API has answered pending for task {TASK} for 6.5 s, but the database holds it "
        "completed"
    )


def test_a_length_at_a_moment_is_the_latest_sample_filed_before_it() -> None:
    figures = QueueSeries(0, 0, 2, [(NOW - 2, 1), (NOW - 1, 2), (NOW, 3)])
    assert figures.length_at(NOW - 1.5) == 1
    assert figures.length_at(NOW - 1) == 2
    assert figures.length_at(NOW - 5) is None


def test_stored_records_are_described_plainly() -> None:
    moment = datetime(2026, 12, 6, 16, 23, 45, 346_512, UTC)
    stored = Record(TaskRow(TASK, None, None, "pending", moment, None, None, None, None), [])
    assert (
        stored.describe()
        == "the database holds it pending, submitted at 16:23:45.346, history empty"
    )
    assert Record(None).describe() == "the database has no row for it"


# --- the wait ----------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def wait(
    time: FakeTime, status: str | None, sources: FakeSources | None, timeout_s: float = 10.0
) -> DeploymentFault:
    async def state() -> TaskState:
        return TaskState(status)

    async def consumers() -> int:
        return 2

    with pytest.raises(DeploymentFault) as raised:
        await wait_for_task_outcome(
            TASK,
            state,
            consumers,
            queue_name="quantum_tasks",
            timeout_s=timeout_s,
            watch=ConsumerWatch(time.clock),
            stalled_consumers_s=2.0,
            clock=time.clock,
            sleep=time.sleep,
            overdue=None if sources is None else overdue(sources),
        )
    return raised.value


async def test_an_accepted_task_the_api_keeps_answering_404_for_fails_the_wait_early() -> None:
    time = FakeTime()
    fault = await wait(time, None, FakeSources(stored=Record(None)))
    assert fault.component == "api"
    assert fault.diagnosis.startswith(f"task {TASK} was accepted, but the API has answered 404")
    assert fault.diagnosis.endswith("; the database has no row for it")
    assert evidence.UNKNOWN_TASK_GRACE_S <= time.now - 100.0 < evidence.UNKNOWN_TASK_GRACE_S + 0.1


async def test_a_dead_lettered_task_fails_the_wait_long_before_its_timeout() -> None:
    time = FakeTime()
    fault = await wait(time, "pending", FakeSources(live_state=Live(0, 2, 1)))
    assert fault.component == "workers"
    assert "a consumer rejected it without requeueing" in fault.diagnosis
    assert time.now - 100.0 < 2.0


async def test_a_task_whose_message_is_nowhere_fails_once_the_figures_count() -> None:
    time = FakeTime()
    fault = await wait(time, "pending", FakeSources())
    assert "neither ready nor unacknowledged messages" in fault.diagnosis
    assert LAG_S <= time.now - 100.0 < LAG_S + 1.1


async def test_ready_messages_no_consumer_takes_are_named_at_the_timeout() -> None:
    fault = await wait(FakeTime(), "pending", FakeSources(live_state=Live(3, 2, 0)))
    assert fault.component == "workers"
    assert fault.diagnosis == (
        "task stayed pending for 10.0 s while quantum_tasks has 2 consumers and 3 messages "
        "ready: no consumer takes them"
    )


async def test_a_task_stuck_processing_quotes_its_stored_record() -> None:
    fault = await wait(FakeTime(), "processing", FakeSources(), timeout_s=3.0)
    assert fault.diagnosis.startswith("task stayed processing for 3.0 s: the worker that took it")
    assert fault.diagnosis.endswith(", history pending")


async def test_without_evidence_a_pending_task_is_not_given_a_cause() -> None:
    fault = await wait(FakeTime(), "pending", None, timeout_s=1.0)
    assert "what could be seen does not tell whether its message did not reach a worker" in (
        fault.diagnosis
    )


# --- every task of a scenario ------------------------------------------------------------------


@dataclass
class FakeApi:
    status: str = "pending"

    async def get_task(self, task_id: str) -> ApiResponse:
        return ApiResponse(200, {"status": self.status}, "", 1.0)


@dataclass
class FakeBroker:
    unacknowledged: int = 0
    dead_letters: int = 0

    async def live_state(self, queue_name: str) -> QueueState:
        return QueueState(self.dead_letters if queue_name.endswith(".dlq") else 0, 2)

    async def queue_series(self, name: str, window_s: float) -> QueueSeries:
        now = datetime.now(UTC).timestamp()
        return QueueSeries(0, self.unacknowledged, 2, [(now - 20, 0), (now, self.dead_letters)])

    async def queue(self, name: str) -> None:
        return None


def environment() -> Environment:
    """Statistics that count at once: the wait of 0.01 s is long enough for them."""
    return Environment(
        "unit", "http://api", "postgresql://db", "amqp://mq", "http://mq", None, None, True,
        Expectations(), Thresholds(statistics_interval_s=0.001),
    )  # fmt: skip


async def wait_for_all(broker: FakeBroker, status: str = "pending") -> DeploymentFault:
    api, inspector = cast(ApiClient, FakeApi(status)), cast(BrokerInspector, broker)
    with pytest.raises(DeploymentFault) as raised:
        await tasks.wait_for_all(["a"], api, inspector, environment(), 0.01, "after x")
    return raised.value


async def test_pending_tasks_whose_messages_are_held_are_not_called_lost() -> None:
    fault = await wait_for_all(FakeBroker(unacknowledged=1))
    assert fault.component == "workers"
    assert fault.diagnosis.endswith(
        "quantum_tasks has 0 message(s) waiting and 2 consumer(s), 1 unacknowledged): consumers "
        "hold their messages unacknowledged and started none of them"
    )


async def test_pending_tasks_whose_messages_were_dead_lettered_say_so() -> None:
    fault = await wait_for_all(FakeBroker(dead_letters=1))
    assert "the dead-letter queue quantum_tasks.dlq gained 1 message during the wait" in (
        fault.diagnosis
    )
    assert fault.loss


async def test_pending_tasks_whose_messages_are_nowhere_say_where_none_is() -> None:
    fault = await wait_for_all(FakeBroker())
    assert fault.component == "queue" and fault.loss
    assert fault.diagnosis.endswith(
        "no message for them is in quantum_tasks, waiting or held unacknowledged, and the "
        "dead-letter queue gained none"
    )


async def test_tasks_left_processing_with_no_message_held_say_none_is_left_to_redeliver() -> None:
    fault = await wait_for_all(FakeBroker(), "processing")
    assert fault.diagnosis.endswith(
        "a worker took them and did not finish them; quantum_tasks holds no message for them, so "
        "none is left to redeliver"
    )


# --- results -----------------------------------------------------------------------------------


def test_counts_the_api_shows_otherwise_than_stored_are_the_apis_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(results, "stored_result", lambda stored: (True, {"00": 517, "11": 507}))
    stored = StoredTask(TASK, "postgresql://db")
    counts = results.measured_counts(
        TaskState("completed", detail={"result": {"00": 520, "11": 507}}, stored=stored)
    )
    with pytest.raises(DeploymentFault) as raised:
        results.require_total(counts, 1024)
    assert raised.value.component == "api"
    assert raised.value.diagnosis == (
        f"the counts sum to 1027, not 1024, but the database stored 00: 517, 11: 507 for task "
        f"{TASK}: the API does not show the stored result"
    )


def test_counts_stored_as_shown_are_the_workers_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "stored_result", lambda stored: (True, {"00": 520, "11": 507}))
    stored = StoredTask(TASK, "postgresql://db")
    counts = results.measured_counts(
        TaskState("completed", detail={"result": {"00": 520, "11": 507}}, stored=stored)
    )
    with pytest.raises(DeploymentFault) as raised:
        results.require_total(counts, 1024)
    assert raised.value.component == "workers"
    assert raised.value.diagnosis == "the counts sum to 1027, not 1024"
