"""The broker's message trace: what a traced copy says, what the checks conclude from the copies,
how the run switches the vhost's tracing as the profile says and back, and the policy."""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from qtask_verify.checks import messages
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.clients.broker import QueueState
from qtask_verify.clients.tracing import MessageTrace, TracedMessage
from qtask_verify.config import ControllerSettings, Thresholds, load_environment
from qtask_verify.deployment.controller import CommandController
from qtask_verify.deployment.identity import DeploymentIdentity
from qtask_verify.deployment.journal import InterventionJournal
from qtask_verify.deployment.tracing import begin_run_tracing, end_run_tracing
from qtask_verify.errors import ConfigurationError, DeploymentFault
from qtask_verify.plugin.ordering import NOT_RUN_BY_POLICY, policy_scope, skip_what_is_not_allowed
from tests.suite.unit.environments import ENVIRONMENT
from tests.suite.unit.test_ordering import Scenario

QUEUE = "quantum_tasks"
TASK = "ebb96c22-7737-4e1f-977b-4e46e2ba01f2"


class Copy:
    """What aio-pika hands over for one traced copy."""

    def __init__(self, routing_key: str, body: bytes, **headers: Any) -> None:
        self.routing_key, self.body, self.headers = routing_key, body, headers


def published(task: str = TASK, mode: int = 2, routed: list[str] | None = None) -> Copy:
    return Copy(
        "publish.",
        f'{{"task_id":"{task}"}}'.encode(),
        exchange_name="",
        routing_keys=[QUEUE],
        properties={"delivery_mode": mode, "message_id": task},
        connection="127.0.0.1:35516 -> 127.0.0.1:5672",
        routed_queues=[QUEUE] if routed is None else routed,
    )


def delivered(task: str = TASK, queue: str = QUEUE) -> Copy:
    return Copy(
        f"deliver.{queue}",
        f'{{"task_id":"{task}"}}'.encode(),
        exchange_name="",
        routing_keys=[QUEUE],
        properties={"delivery_mode": 2},
        redelivered=0,
        connection="127.0.0.1:35522 -> 127.0.0.1:5672",
    )


async def trace_of(*copies: Copy) -> MessageTrace:
    trace = MessageTrace(connection=None)  # type: ignore[arg-type]
    for copy in copies:
        await trace._receive(copy)  # type: ignore[arg-type]
    return trace


# --- a traced copy -------------------------------------------------------------------------------


def test_a_publish_copy_says_where_it_went_how_and_what_it_carries() -> None:
    message = TracedMessage.parse(published(), 1.0)  # type: ignore[arg-type]
    assert message is not None
    assert (message.event, message.exchange, message.delivery_mode) == ("publish", "", 2)
    assert message.routed_queues == (QUEUE,) and message.goes_to(QUEUE)
    assert message.mentions(TASK) and message.uuids() == {TASK}
    assert not message.mentions(str(uuid.uuid4()))


def test_a_delivery_copy_names_its_queue_and_the_consumer_connection() -> None:
    message = TracedMessage.parse(delivered(), 1.0)  # type: ignore[arg-type]
    assert message is not None
    assert (message.event, message.queue, message.redelivered) == ("deliver", QUEUE, False)
    assert message.connection == "127.0.0.1:35522 -> 127.0.0.1:5672"
    assert not message.goes_to(QUEUE)  # a delivery is not a publish


def test_without_routed_queues_the_default_exchange_rule_decides() -> None:
    copy = published()
    del copy.headers["routed_queues"]
    message = TracedMessage.parse(copy, 1.0)  # type: ignore[arg-type]
    assert message is not None and message.routed_queues is None and message.goes_to(QUEUE)
    copy.headers["exchange_name"] = "tasks"
    other = TracedMessage.parse(copy, 1.0)  # type: ignore[arg-type]
    assert other is not None and not other.goes_to(QUEUE)


def test_an_id_only_in_a_property_is_still_the_tasks() -> None:
    copy = Copy("publish.", b"{}", properties={"correlation_id": TASK.encode()})
    message = TracedMessage.parse(copy, 1.0)  # type: ignore[arg-type]
    assert message is not None and message.mentions(TASK) and message.uuids() == {TASK}


async def test_waiting_for_a_copy_returns_it_on_arrival_or_none_in_time() -> None:
    trace = await trace_of(delivered(str(uuid.uuid4())))
    started = time.monotonic()
    assert await trace.wait_for(lambda m: m.mentions(TASK), 0.2) is None
    assert time.monotonic() - started < 1.0
    await trace._receive(published())  # type: ignore[arg-type]
    found = await trace.wait_for(lambda m: m.mentions(TASK), 0.2)
    assert found is not None and found.event == "publish"


# --- the checks ----------------------------------------------------------------------------------


class Consumers:
    """The task queue's live count, as a passive declare gives it."""

    def __init__(self, count: int) -> None:
        self.count = count

    async def live_state(self, queue: str) -> QueueState:
        return QueueState(messages=0, consumers=self.count)


def waiting(processing_s: float, stalled_s: float = 2.0) -> Any:
    thresholds = Thresholds(processing_s=processing_s, stalled_consumers_s=stalled_s)
    return dataclasses.replace(ENVIRONMENT, thresholds=thresholds)


async def test_a_persistent_message_routed_to_the_queue_and_delivered_passes() -> None:
    trace = await trace_of(published(), delivered())
    message = await messages.require_published_persistent(trace, TASK, QUEUE, 0.1)
    await messages.require_delivered_to_worker(
        trace,
        message,
        TASK,
        Consumers(2),
        waiting(0.1),
        ConsumerWatch(),  # type: ignore[arg-type]
    )


async def test_a_transient_message_is_named_with_its_delivery_mode() -> None:
    trace = await trace_of(published(mode=1))
    with pytest.raises(DeploymentFault, match=r"delivery mode 1, not 2 \(persistent\)"):
        await messages.require_published_persistent(trace, TASK, QUEUE, 0.1)


async def test_a_message_routed_elsewhere_names_where_it_went() -> None:
    trace = await trace_of(published(routed=["other"]))
    with pytest.raises(DeploymentFault, match=r"routed to \['other'\], not to quantum_tasks"):
        await messages.require_published_persistent(trace, TASK, QUEUE, 0.1)


async def test_no_copy_of_the_tasks_message_says_what_else_was_seen() -> None:
    trace = await trace_of(published(str(uuid.uuid4())))
    with pytest.raises(DeploymentFault, match=r"no message carrying task .* 1 other publish"):
        await messages.require_published_persistent(trace, TASK, QUEUE, 0.1)


async def test_a_message_not_delivered_from_the_queue_is_a_workers_finding() -> None:
    trace = await trace_of(published(), delivered(queue="elsewhere"))
    message = await messages.require_published_persistent(trace, TASK, QUEUE, 0.1)
    with pytest.raises(DeploymentFault, match=r"not delivered .* delivered from \['elsewhere'\]"):
        await messages.require_delivered_to_worker(
            trace,
            message,
            TASK,
            Consumers(2),
            waiting(0.3),
            ConsumerWatch(),  # type: ignore[arg-type]
        )


async def test_without_consumers_the_wait_for_a_delivery_ends_at_once() -> None:
    trace = await trace_of(published())
    message = await messages.require_published_persistent(trace, TASK, QUEUE, 0.1)
    started = time.monotonic()
    with pytest.raises(DeploymentFault, match=r"no worker consumes quantum_tasks \(0 consumers"):
        await messages.require_delivered_to_worker(
            trace,
            message,
            TASK,
            Consumers(0),
            waiting(30.0, 0.1),
            ConsumerWatch(),  # type: ignore[arg-type]
        )
    assert time.monotonic() - started < 5.0


@dataclasses.dataclass
class Proof:
    """The scenario's tasks: the proof task is published at once, as a real API would."""

    trace: MessageTrace
    task_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))

    async def submit(self, circuit: str, shots: int) -> Any:
        await self.trace._receive(published(self.task_id))  # type: ignore[arg-type]
        return self


class Stored:
    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)

    async def fetch_task(self, task_id: str) -> object | None:
        return object() if task_id in self.ids else None


class Ledger:
    def __init__(self, *ids: str) -> None:
        self.ids = ids

    def entries(self) -> list[Any]:
        return [dataclasses.make_dataclass("E", ["task_id"])(i) for i in self.ids]


async def _judge_refusals(*copies: Copy, stored: Stored, ledger: Ledger) -> None:
    trace = await trace_of()
    since = time.monotonic()
    for copy in copies:
        await trace._receive(copy)  # type: ignore[arg-type]
    proof = Proof(trace)
    stored.ids.add(proof.task_id)
    await messages.require_no_message_for_refused(
        trace,
        since,
        QUEUE,
        proof,
        "qc",
        stored,
        ledger,
        0.1,  # type: ignore[arg-type]
    )


async def test_messages_of_stored_or_ledgered_tasks_explain_themselves() -> None:
    stored, deleted = str(uuid.uuid4()), str(uuid.uuid4())
    await _judge_refusals(
        published(stored), published(deleted), stored=Stored(stored), ledger=Ledger(deleted)
    )


async def test_a_message_for_no_stored_task_is_published_for_a_refusal() -> None:
    with pytest.raises(
        DeploymentFault, match=r"^api: 1 message\(s\) were published to quantum_tasks"
    ):
        await _judge_refusals(published(str(uuid.uuid4())), stored=Stored(), ledger=Ledger())


async def test_a_message_to_another_queue_is_not_the_task_queues() -> None:
    stray = published(str(uuid.uuid4()), routed=["audit"])
    await _judge_refusals(stray, stored=Stored(), ledger=Ledger())


# --- switching the vhost's tracing for the run ---------------------------------------------------


class Broker:
    """The vhost's tracing as the broker lists it: the state file the trace command writes."""

    vhost = "/"

    def __init__(self, state: Path) -> None:
        self.state = state

    async def vhost_traces(self) -> bool | None:
        return self.state.exists() and self.state.read_text().strip() == "on"


def _switching(tmp_path: Path, command: str | None = None) -> tuple[Any, Broker, Any, Any]:
    state = tmp_path / "tracing"
    script = f"import pathlib, sys; pathlib.Path({str(state)!r}).write_text(sys.argv[1])"
    trace = command or f'{sys.executable} -c "{script}" {{state}}'
    settings = ControllerSettings(working_directory=tmp_path, timeout_s=5.0, trace=trace)
    env = dataclasses.replace(ENVIRONMENT, message_tracing="switch", controller=settings)
    journal = InterventionJournal.in_directory(tmp_path, DeploymentIdentity("db", "mq"), "local")
    return env, Broker(state), journal, CommandController(settings)


async def test_switch_turns_tracing_on_journaled_and_off_again(tmp_path: Path) -> None:
    env, broker, journal, controller = _switching(tmp_path)
    run = await begin_run_tracing(env, broker, journal, controller)  # type: ignore[arg-type]
    assert run.unavailable is None and run.switched is not None
    assert await broker.vhost_traces() is True
    assert [e.change.subject for e in journal.open_entries()] == ["the tracing of vhost /"]
    assert await end_run_tracing(env, broker, journal, controller, run) is None  # type: ignore[arg-type]
    assert await broker.vhost_traces() is False and journal.open_entries() == []


async def test_a_vhost_that_already_traces_is_left_alone(tmp_path: Path) -> None:
    env, broker, journal, controller = _switching(tmp_path)
    broker.state.write_text("on")
    run = await begin_run_tracing(env, broker, journal, controller)  # type: ignore[arg-type]
    assert (run.unavailable, run.switched) == (None, None)
    assert await end_run_tracing(env, broker, journal, controller, run) is None  # type: ignore[arg-type]
    assert broker.state.read_text() == "on" and journal.entries() == []


async def test_observe_uses_tracing_only_where_it_is_on(tmp_path: Path) -> None:
    env, broker, journal, controller = _switching(tmp_path)
    observe = dataclasses.replace(env, message_tracing="observe")
    run = await begin_run_tracing(observe, broker, journal, controller)  # type: ignore[arg-type]
    assert run.unavailable is not None and "only uses it where it is on" in run.unavailable
    assert not broker.state.exists() and journal.entries() == []


async def test_a_failed_switch_is_the_reason_and_leaves_nothing_open(tmp_path: Path) -> None:
    env, broker, journal, controller = _switching(tmp_path, f"{sys.executable} -c 'exit(3)'")
    run = await begin_run_tracing(env, broker, journal, controller)  # type: ignore[arg-type]
    assert run.unavailable is not None
    assert "could not be switched on for vhost /" in run.unavailable and "exit 3" in run.unavailable
    assert run.switched is None
    # Switching off failed too (the same command), so the journal keeps it for the next run.
    assert [e.change.kind for e in journal.open_entries()] == ["vhost-tracing"]


# --- the profile ---------------------------------------------------------------------------------


def test_tracing_off_is_a_policy_that_narrows_the_scope() -> None:
    traced, plain = Scenario("p2", "mutating", "needs_tracing"), Scenario("p2", "mutating")
    skip_what_is_not_allowed(ENVIRONMENT, [traced, plain])  # type: ignore[list-item]
    assert 'message_tracing = "off"' in traced.stash[NOT_RUN_BY_POLICY]
    assert plain.skips == []
    assert "without message-tracing checks" in (policy_scope(ENVIRONMENT) or "")
    switching = dataclasses.replace(ENVIRONMENT, message_tracing="switch")
    assert "message-tracing" not in (policy_scope(switching) or "")


def test_the_profile_sets_tracing_and_the_controllers_trace_command(tmp_path: Path) -> None:
    path = tmp_path / "environments.toml"
    path.write_text(
        "[profiles.x]\nmessage_tracing = 'switch'\n"
        "[profiles.x.controller]\ntrace = 'ctl --dir ${DIR:-d} trace {state}'\n"
    )
    urls = {
        "QTASK_API_URL": "http://a",
        "QTASK_DATABASE_URL": "postgresql://u@h/d",
        "QTASK_AMQP_URL": "amqp://u@h/",
        "QTASK_MANAGEMENT_URL": "http://m",
        "DIR": "here",
    }
    env = load_environment("x", path, environ=urls)
    assert env.message_tracing == "switch"
    assert env.controller is not None and env.controller.trace == "ctl --dir here trace {state}"
    path.write_text("[profiles.x]\nmessage_tracing = 'always'\n")
    with pytest.raises(ConfigurationError, match="message_tracing"):
        load_environment("x", path, environ=urls)
