"""The task queue's settings, judged against the environment's expectations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..clients import BrokerInspector, QueueInfo
from ..config import Environment, Expectations
from ..errors import DeploymentFault, require
from .consumers import ConsumerWatch


@dataclass(frozen=True)
class QueueLookup:
    """The task queue as looked up; where it is missing, the vhost's queues and consumers."""

    info: QueueInfo | None
    others: dict[str, int]
    vhost: str


async def look_up(broker: BrokerInspector, environment: Environment) -> QueueLookup:
    info = await broker.queue(environment.expectations.queue_name)
    others = {} if info is not None else await broker.queue_consumers()
    return QueueLookup(info, others, broker.vhost)


def what_the_vhost_holds(others: dict[str, int], vhost: str) -> str:
    """'vhost / holds: circuit_jobs (1 consumer), circuit_jobs_failed (0 consumers)'."""
    if not others:
        return f"vhost {vhost} holds no queue"
    listed = ", ".join(
        f"{name} ({count} consumer{'' if count == 1 else 's'})"
        for name, count in sorted(others.items())
    )
    return f"vhost {vhost} holds: {listed}"


def existing(lookup: QueueLookup, environment: Environment) -> QueueInfo:
    """The task queue, or a DeploymentFault(queue) saying what the vhost holds instead."""
    name = environment.expectations.queue_name
    if lookup.info is None:
        holds = what_the_vhost_holds(lookup.others, lookup.vhost)
        raise DeploymentFault("queue", f"queue {name} does not exist on the broker; {holds}")
    return lookup.info


async def task_queue_consumers(
    broker: BrokerInspector, environment: Environment, watch: ConsumerWatch
) -> int:
    """Consumers of the task queue right now."""
    queue_name = environment.expectations.queue_name
    state = await broker.live_state(queue_name)
    if state is None:
        holds = what_the_vhost_holds(await broker.queue_consumers(), broker.vhost)
        raise DeploymentFault("queue", f"queue {queue_name} does not exist; {holds}")
    watch.observe(state.consumers)
    return state.consumers


def require_dead_lettering(queue: QueueInfo, expected: Expectations) -> None:
    exchange = queue.arguments.get("x-dead-letter-exchange")
    routing_key = queue.arguments.get("x-dead-letter-routing-key")
    require(
        exchange is not None,
        "queue",
        f"queue {queue.name} has no dead-letter exchange (no x-dead-letter-exchange argument): "
        f"a poison message is dropped or redelivered for ever; expected dead-lettering to "
        f"{expected.dead_letter_exchange!r} with {expected.dead_letter_routing_key!r}",
    )
    require(
        (exchange, routing_key)
        == (expected.dead_letter_exchange, expected.dead_letter_routing_key),
        "queue",
        f"queue {queue.name} dead-letters to exchange {exchange!r} with key {routing_key!r}, "
        f"expected {expected.dead_letter_exchange!r} with {expected.dead_letter_routing_key!r}",
    )


# Settings that can make a queue drop or expire a message it accepted, as policy keys (queue
# arguments carry the same with an "x-" prefix). `max-length` drops only with the default
# overflow, drop-head; `reject-publish` refuses the publish instead (the API must answer 5xx).
# A quorum queue's `delivery-limit` is left out: it dead-letters a task that keeps failing,
# which the contract asks for.
_EXPIRING = ("message-ttl", "expires")
_BOUNDING = ("max-length", "max-length-bytes")


class QueueSettings(Protocol):
    """What decides whether a queue may drop a waiting message (a QueueInfo, or discover's)."""

    @property
    def arguments(self) -> Mapping[str, Any]: ...
    @property
    def effective_policy(self) -> Mapping[str, Any]: ...
    @property
    def policy(self) -> str | None: ...
    @property
    def operator_policy(self) -> str | None: ...


def losses_by_settings(queue: QueueSettings) -> list[str]:
    """What in the queue's policies or arguments can drop or expire a waiting task."""
    settings = {f"x-{k}": v for k, v in queue.effective_policy.items()} | dict(queue.arguments)
    named = [n for n in (queue.policy, queue.operator_policy) if n]
    source = f" (policy {', '.join(named)}, or the queue's arguments)" if named else ""
    found = []
    for key in _EXPIRING:
        if (value := settings.get(f"x-{key}")) is not None:
            found.append(f"{key} {value}")
    overflow = settings.get("x-overflow", "drop-head")
    for key in _BOUNDING:
        if (value := settings.get(f"x-{key}")) is not None and overflow == "drop-head":
            found.append(f"{key} {value} with overflow drop-head")
    return [f"{setting}{source}" for setting in found]


def require_no_loss_by_settings(queue: QueueInfo) -> None:
    found = losses_by_settings(queue)
    require(
        not found,
        "queue",
        f"queue {queue.name} can drop or expire accepted tasks before a worker takes them: "
        + "; ".join(found),
    )


async def require_dead_letter_route(broker: BrokerInspector, expected: Expectations) -> None:
    """The dead-letter exchange exists, is durable and routes to a durable dead-letter queue."""
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
