"""Steps of features/p2_queue.feature."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pytest_bdd import scenarios

from qtask_verify.bdd import given, then
from qtask_verify.checks import queue
from qtask_verify.checks.consumers import ConsumerWatch
from qtask_verify.clients import BrokerInspector
from qtask_verify.config import Environment
from qtask_verify.deployment.interventions import Interventions, workers_paused
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


@given("the workers are paused")
async def _(
    interventions: Interventions,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
) -> AsyncIterator[None]:
    """Stops the running workers and, whatever happens next, starts them again; their return
    overlaps the scenarios that need no worker (see ``workers_paused``)."""
    await queue.require_workers_to_pause(broker, environment, consumer_watch)
    async with workers_paused(interventions.of("worker"), consumer_watch.expect_workers_back):
        yield


@then("the task's message waits in the task queue as a persistent message")
async def _(submitted: SubmittedTask, broker: BrokerInspector, environment: Environment) -> None:
    name = environment.expectations.queue_name
    await queue.require_waiting_message_persistent(submitted.task_id, broker, name)
