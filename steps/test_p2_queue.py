"""Steps of features/p2_queue.feature."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pytest_bdd import scenarios

from qtask_verify.bdd import given, then
from qtask_verify.clients import BrokerInspector, QueueInfo
from qtask_verify.config import Environment
from qtask_verify.controller import CommandController, PendingAction
from qtask_verify.errors import require
from qtask_verify.ledger import SubmittedTask
from qtask_verify.waiting import ConsumerWatch, poll_until

scenarios("p2_queue.feature")

WORKERS_STOP_S = 15.0
WORKERS_RESUME_S = 30.0
# The Management API refreshes queue statistics every few seconds (5 s by default, 1 s on the
# local stack): ask often, so the new figures are seen soon after they appear.
STATISTICS_DELAY_S = 12.0
POLL_S = 0.05


def _queue(queue_info: QueueInfo | None, environment: Environment) -> QueueInfo:
    name = environment.expectations.queue_name
    require(queue_info is not None, "queue", f"queue {name} does not exist on the broker")
    assert queue_info is not None
    return queue_info


@then("the task queue is durable")
def _(queue_info: QueueInfo | None, environment: Environment) -> None:
    queue = _queue(queue_info, environment)
    require(queue.durable, "queue", f"queue {queue.name} is not durable: a broker restart loses it")


@then("the task queue is not deleted when its last consumer leaves")
def _(queue_info: QueueInfo | None, environment: Environment) -> None:
    queue = _queue(queue_info, environment)
    require(not queue.auto_delete, "queue", f"queue {queue.name} is auto-delete")


@then("the task queue dead-letters to the expected exchange and routing key")
def _(queue_info: QueueInfo | None, environment: Environment) -> None:
    queue = _queue(queue_info, environment)
    expected = environment.expectations
    exchange = queue.arguments.get("x-dead-letter-exchange")
    routing_key = queue.arguments.get("x-dead-letter-routing-key")
    require(
        (exchange, routing_key)
        == (expected.dead_letter_exchange, expected.dead_letter_routing_key),
        "queue",
        f"queue {queue.name} dead-letters to exchange {exchange!r} with key {routing_key!r}, "
        f"expected {expected.dead_letter_exchange!r} with {expected.dead_letter_routing_key!r}",
    )


@then("the dead-letter exchange routes to a durable dead-letter queue")
async def _(broker: BrokerInspector, environment: Environment) -> None:
    expected = environment.expectations
    exchange = await broker.exchange(expected.dead_letter_exchange)
    require(exchange is not None, "queue", f"exchange {expected.dead_letter_exchange} is missing")
    assert exchange is not None
    require(exchange.durable, "queue", f"exchange {exchange.name} is not durable")
    bindings = await broker.bindings_from(exchange.name)
    binding = (expected.dead_letter_queue, expected.dead_letter_routing_key)
    require(
        binding in bindings,
        "queue",
        f"exchange {exchange.name} does not route {expected.dead_letter_routing_key!r} to "
        f"{expected.dead_letter_queue} (bindings: {bindings})",
    )
    queue = await broker.queue(expected.dead_letter_queue)
    require(
        queue is not None and queue.durable,
        "queue",
        f"dead-letter queue {expected.dead_letter_queue} is missing or not durable",
    )


@then("at least the expected number of workers consume it")
def _(consumer_count: int, environment: Environment) -> None:
    expected = environment.expectations.min_consumers
    name = environment.expectations.queue_name
    require(
        consumer_count >= expected,
        "workers",
        f"{consumer_count} worker(s) consume {name}, expected at least {expected}",
    )


async def _live_consumers(broker: BrokerInspector, queue_name: str) -> int:
    state = await broker.live_state(queue_name)
    return 0 if state is None else state.consumers


async def _workers_back(
    start: PendingAction, broker: BrokerInspector, queue_name: str, consumers: int
) -> None:
    """The controller's start finished and the queue has its ``consumers`` again."""
    await start.wait()
    resumed = await poll_until(
        lambda: _live_consumers(broker, queue_name),
        lambda n: n >= consumers,
        WORKERS_RESUME_S,
        max_delay_s=POLL_S,
    )
    require(
        resumed.satisfied,
        "workers",
        f"workers the suite paused did not consume {queue_name} again within "
        f"{WORKERS_RESUME_S:.0f} s of being started ({resumed.value} of {consumers} consumers)",
    )


@given("the workers are paused")
async def _(
    controller: CommandController,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> AsyncIterator[None]:
    """Stops the running workers and, whatever happens next, starts them again.

    The suite pauses only workers it finds running: a task queue without consumers means the
    deployment has no worker to pause, and the scenario fails at once without starting anything
    (the run's verdict stays what the missing workers make it). Their return is handed to the
    consumer watch instead of being waited for here: every wait for a worker awaits it first, so
    it overlaps the scenarios that need no worker (see the plugin's deployment lock).
    """
    await consumer_watch.settled()
    queue_name = environment.expectations.queue_name
    running = await _live_consumers(broker, queue_name)
    consumer_watch.observe(running)
    require(
        running > 0,
        "workers",
        f"no worker is consuming {queue_name} (0 consumers): there is no worker to pause, so "
        "the persistence of waiting messages was not observed",
    )
    try:
        await controller.run("stop", "worker")
        stopped = await poll_until(
            lambda: _live_consumers(broker, queue_name),
            lambda n: n == 0,
            WORKERS_STOP_S,
            max_delay_s=POLL_S,
        )
        require(
            stopped.satisfied,
            "workers",
            f"{stopped.value} consumer(s) still on {queue_name} {WORKERS_STOP_S:.0f} s after "
            "the workers were stopped",
        )
        yield
    finally:
        start = await controller.begin("start", "worker")
        consumer_watch.expect_workers_back(_workers_back(start, broker, queue_name, running))


@then("the task's message waits in the task queue as a persistent message")
async def _(submitted: SubmittedTask, broker: BrokerInspector, environment: Environment) -> None:
    name = environment.expectations.queue_name
    live = await broker.live_state(name)
    require(
        live is not None and live.messages >= 1,
        "queue",
        f"task {submitted.task_id} was accepted but no message waits in {name}",
    )
    # The Management API's statistics lag: its message count and its count of persistent
    # messages may be refreshed at different moments, so wait until both include our message.
    counted = await poll_until(
        lambda: broker.queue(name),
        lambda q: q is not None and q.messages >= 1 and q.messages_persistent >= q.messages,
        STATISTICS_DELAY_S,
        max_delay_s=POLL_S,
    )
    queue = counted.value
    require(
        queue is not None and queue.messages >= 1,
        "queue",
        f"the Management API did not count the waiting message within {STATISTICS_DELAY_S:.0f} s",
    )
    assert queue is not None
    require(
        queue.messages_persistent == queue.messages,
        "queue",
        f"{queue.messages - queue.messages_persistent} of {queue.messages} messages waiting in "
        f"{name} are not persistent: a broker restart would lose them",
    )
