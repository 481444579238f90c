"""Steps of features/p2_queue.feature."""

from __future__ import annotations

import pytest
from pytest_bdd import scenarios

from qtask_verify.bdd import then
from qtask_verify.checks import acknowledgements, messages, queue
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.clients import BrokerInspector, DatabaseInspector
from qtask_verify.clients.tracing import MessageTrace, TracedMessage
from qtask_verify.config import Environment
from qtask_verify.deployment.ledger import SubmittedTask
from qtask_verify.errors import require

scenarios("p2_queue.feature")


@then("the task queue is durable")
def _(queue_info: queue.QueueLookup, environment: Environment) -> None:
    found = queue.existing(queue_info, environment)
    require(found.durable, "queue", f"queue {found.name} is not durable: a broker restart loses it")


@then("the task queue is not deleted when its last consumer leaves")
def _(queue_info: queue.QueueLookup, environment: Environment) -> None:
    found = queue.existing(queue_info, environment)
    require(not found.auto_delete, "queue", f"queue {found.name} is auto-delete")


@then("the task queue dead-letters to the expected exchange and routing key")
def _(queue_info: queue.QueueLookup, environment: Environment) -> None:
    queue.require_dead_lettering(queue.existing(queue_info, environment), environment.expectations)


@then("no policy or argument of the task queue can drop or expire a waiting task")
def _(queue_info: queue.QueueLookup, environment: Environment) -> None:
    queue.require_no_loss_by_settings(queue.existing(queue_info, environment))


@then("the dead-letter exchange routes to a durable dead-letter queue")
async def _(broker: BrokerInspector, environment: Environment) -> None:
    await queue.require_dead_letter_route(broker, environment.expectations)


@then("at least the expected number of workers consume it")
def _(consumer_count: int, environment: Environment) -> None:
    expected = environment.expectations.min_consumers
    name = environment.expectations.queue_name
    require(
        consumer_count >= expected,
        "workers",
        f"{consumer_count} worker(s) consume {name}, expected at least {expected}",
    )


@then(
    "the broker saw the task's message published as persistent to the task queue",
    target_fixture="published_message",
)
async def _(
    submitted: SubmittedTask, message_trace: MessageTrace, environment: Environment
) -> TracedMessage:
    name = environment.expectations.queue_name
    return await messages.require_published_persistent(message_trace, submitted.task_id, name)


@then("the broker saw the task's message delivered from the task queue to a worker")
async def _(
    submitted: SubmittedTask,
    published_message: TracedMessage,
    message_trace: MessageTrace,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> None:
    await messages.require_delivered_to_worker(
        message_trace, published_message, submitted.task_id, broker, environment, consumer_watch
    )


@then("no message of a finished task is left unacknowledged in the task queue")
async def _(
    broker: BrokerInspector,
    database: DatabaseInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> None:
    finished_for = consumer_watch.finished_for() or 0.0
    if reason := await acknowledgements.require_finished_acknowledged(
        broker, database, environment, finished_for
    ):
        pytest.skip(reason)
