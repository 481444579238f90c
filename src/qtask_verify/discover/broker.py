"""The broker as `discover` reads it through the Management API: which queue is the task queue,
its type, durability, arguments and policies, and where it dead-letters to.

The task queue is found, not assumed: the one the profile names if it exists, else the best of
the vhost's queues by what a task queue has (dead-lettering, consumers, durability).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from ..checks.queue import losses_by_settings
from ..clients import BrokerInspector, ExchangeInfo
from ..clients._http import verify_tls
from ..errors import DeploymentFault
from . import contract
from .findings import Assessment, Draft, Finding, Reading, some

# Fields of /api/queues/<vhost> this module reads (the list is cut down to them).
_COLUMNS = (
    "name,durable,auto_delete,exclusive,arguments,type,consumers,policy,operator_policy,"
    "effective_policy_definition"
)


@dataclass(frozen=True)
class ListedQueue:
    """A queue of the vhost with what decides whether it is the task queue."""

    name: str
    durable: bool
    auto_delete: bool
    exclusive: bool
    arguments: Mapping[str, Any]
    type: str
    consumers: int
    policy: str | None
    operator_policy: str | None
    effective_policy: Mapping[str, Any]

    def setting(self, argument: str) -> tuple[Any, str]:
        """A queue argument (``x-dead-letter-exchange``) or else its policy key, and where from."""
        if argument in self.arguments:
            return self.arguments[argument], "argument"
        key = argument.removeprefix("x-")
        if key in self.effective_policy:
            return self.effective_policy[key], f"policy {self.policy or self.operator_policy}"
        return None, ""

    @property
    def dead_letter_exchange(self) -> str | None:
        value, _ = self.setting("x-dead-letter-exchange")
        return value if isinstance(value, str) else None


def _listed(body: Mapping[str, Any]) -> ListedQueue:
    return ListedQueue(
        name=str(body.get("name")),
        durable=bool(body.get("durable")),
        auto_delete=bool(body.get("auto_delete")),
        exclusive=bool(body.get("exclusive")),
        arguments=dict(body.get("arguments") or {}),
        type=str(body.get("type") or "classic"),
        consumers=int(body.get("consumers") or 0),
        policy=body.get("policy") or None,
        operator_policy=body.get("operator_policy") or None,
        effective_policy=dict(body.get("effective_policy_definition") or {}),
    )


async def list_queues(
    management_url: str, auth: tuple[str, str] | None, vhost: str, timeout_s: float
) -> list[ListedQueue]:
    """Every queue of the vhost with its policies (BrokerInspector reads one queue at a time and
    not its policies, so this Management API read lives here)."""
    parts = urlsplit(management_url)
    base = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    base += parts.path.rstrip("/")
    async with httpx.AsyncClient(
        base_url=base, auth=auth, timeout=timeout_s, verify=verify_tls(base)
    ) as http:
        try:
            response = await http.get(
                f"/api/queues/{quote(vhost, safe='')}", params={"columns": _COLUMNS}
            )
        except httpx.TimeoutException:
            raise DeploymentFault(
                "queue",
                f"the broker's Management API at {base} did not answer within {timeout_s} s",
            ) from None
        except httpx.HTTPError as error:
            raise DeploymentFault(
                "queue",
                f"the broker's Management API at {base} cannot be reached: "
                f"{str(error) or type(error).__name__}",
            ) from None
    if response.status_code in (401, 403):
        raise DeploymentFault(
            "queue", f"the broker's Management API refused our credentials ({response.status_code})"
        )
    if response.status_code == 404:
        raise DeploymentFault("queue", f"the broker has no vhost {vhost!r} (the AMQP URL's path)")
    if response.status_code != 200:
        raise DeploymentFault(
            "queue", f"the broker's Management API answered {response.status_code} for the queues"
        )
    body = response.json()
    return [_listed(q) for q in body if isinstance(q, dict)] if isinstance(body, list) else []


def choose_task_queue(queues: list[ListedQueue], named: str | None) -> ListedQueue | None:
    """The task queue: the one the profile names, else the likeliest of the vhost's queues."""
    by_name = {q.name: q for q in queues}
    if named and named in by_name:
        return by_name[named]
    candidates = [q for q in queues if not q.exclusive and not q.name.startswith("amq.")]
    if not candidates:
        return None

    def rank(queue: ListedQueue) -> tuple[bool, bool, bool, bool]:
        return (
            queue.dead_letter_exchange is not None,
            queue.consumers > 0,
            queue.durable,
            queue.name == contract.REFERENCE_NAMES["queue_name"],
        )

    return max(candidates, key=rank)


def routes(exchange_type: str, binding_key: str, routing_key: str) -> bool:
    """Whether a binding with ``binding_key`` takes a message with ``routing_key``."""
    if exchange_type in ("fanout", "headers"):
        return True
    if exchange_type != "topic":
        return binding_key == routing_key
    return _topic_match(binding_key.split("."), routing_key.split("."))


def _topic_match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_topic_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _topic_match(rest, words[1:])


def _row(item: str, expected: str, found: str, assessment: Assessment, why: str = "") -> Finding:
    return Finding("queue", item, expected, found, assessment, why)


def _named(key: str, name: str) -> tuple[Assessment, str]:
    same = name == contract.REFERENCE_NAMES[key]
    return (Assessment.AS_CONTRACT if same else Assessment.ALLOWED), f"{key} = {name!r}"


async def read_broker(
    broker: BrokerInspector, queues: list[ListedQueue], named: str | None
) -> Reading:
    """The task queue's settings and dead-letter route, as rows and draft values."""
    queue = choose_task_queue(queues, named)
    reference = contract.REFERENCE_NAMES["queue_name"]
    if queue is None:
        why = f"no queue in vhost {broker.vhost!r} that could be the task queue"
        found = some([q.name for q in queues]) or "no queue"
        return Reading((_row("task queue", reference, found, Assessment.VIOLATION, why),))
    others = [q.name for q in queues if q.name != queue.name]
    found = queue.name + (f" (others: {some(others)})" if others else "")
    assessment, why = _named("queue_name", queue.name)
    if named and queue.name != named:
        why += f" (the profile's {named} does not exist)"
    rows = [_row("task queue", reference, found, assessment, why)]
    rows += _settings(queue, await _live_consumers(broker, queue))
    draft = Draft(queue_name=queue.name)
    route_rows, route = await _dead_letter_route(broker, queue, queues)
    return Reading(tuple(rows + route_rows), draft.merged(route))


async def _live_consumers(broker: BrokerInspector, queue: ListedQueue) -> int:
    """The queue's consumers right now (a passive declare): the Management API's count lags, and
    a quorum queue's is missing for seconds at a time."""
    try:
        live = await broker.live_state(queue.name)
    except DeploymentFault:
        return queue.consumers
    return queue.consumers if live is None else live.consumers


def _settings(queue: ListedQueue, consumers_now: int) -> list[Finding]:
    rows = []
    if queue.type == "classic":
        rows.append(_row("queue type", "classic or quorum", "classic", Assessment.AS_CONTRACT))
    elif queue.type in contract.QUEUE_TYPES:
        rows.append(
            _row(
                "queue type",
                "classic or quorum",
                queue.type,
                Assessment.ALLOWED,
                "open, no key needed",
            )
        )
    else:
        rows.append(
            _row(
                "queue type",
                "classic or quorum",
                queue.type,
                Assessment.VIOLATION,
                f"a {queue.type} queue is not a work queue",
            )
        )
    durability = (
        f"durable={str(queue.durable).lower()}, auto_delete={str(queue.auto_delete).lower()}"
    )
    if queue.durable and not queue.auto_delete:
        rows.append(
            _row("durability", "durable, not auto-delete", durability, Assessment.AS_CONTRACT)
        )
    else:
        why = "tasks would be lost with the broker" if not queue.durable else "deleted when idle"
        rows.append(
            _row("durability", "durable, not auto-delete", durability, Assessment.VIOLATION, why)
        )
    consumers = f"{consumers_now} consumer(s)"
    if consumers_now:
        rows.append(_row("consumers", "at least 1 (workers)", consumers, Assessment.AS_CONTRACT))
    else:
        rows.append(
            _row(
                "consumers",
                "at least 1 (workers)",
                consumers,
                Assessment.VIOLATION,
                "no worker consumes the queue",
            )
        )
    arguments = ", ".join(f"{k}={v}" for k, v in sorted(queue.arguments.items())) or "none"
    rows.append(_row("arguments", "(open)", arguments, Assessment.NOTE))
    policies = [
        f"policy {queue.policy}" if queue.policy else "",
        f"operator policy {queue.operator_policy}" if queue.operator_policy else "",
    ]
    effective = ", ".join(f"{k}={v}" for k, v in sorted(queue.effective_policy.items()))
    shown = "; ".join(p for p in policies if p) or "none"
    shown += f" (effective: {effective})" if effective else ""
    losses = losses_by_settings(queue)
    if losses:
        why = f"can drop or expire accepted tasks: {'; '.join(losses)}"
        expected = "nothing that drops a waiting task"
        rows.append(_row("policies", expected, shown, Assessment.VIOLATION, why))
    else:
        rows.append(_row("policies", "(open)", shown, Assessment.NOTE))
    return rows


async def _dead_letter_route(
    broker: BrokerInspector, queue: ListedQueue, queues: list[ListedQueue]
) -> tuple[list[Finding], Draft]:
    """Exchange, routing key and queue the task queue dead-letters to."""
    exchange_name, source = queue.setting("x-dead-letter-exchange")
    reference = contract.REFERENCE_NAMES
    if not isinstance(exchange_name, str):
        why = "poison messages would be dropped or redelivered for ever"
        return [
            _row(
                "dead-letter exchange",
                reference["dead_letter_exchange"],
                "none",
                Assessment.VIOLATION,
                why,
            )
        ], Draft()
    # "" is the default exchange: it routes to the queue named by the routing key.
    exchange = (
        await broker.exchange(exchange_name)
        if exchange_name
        else ExchangeInfo("", "direct", durable=True)
    )
    found = f"{exchange_name} ({source}" + (f", {exchange.type})" if exchange else ")")
    rows: list[Finding] = []
    if exchange is None or not exchange.durable:
        why = f"exchange {exchange_name} " + (
            "does not exist" if exchange is None else "is not durable"
        )
        violation = _row(
            "dead-letter exchange",
            reference["dead_letter_exchange"],
            found,
            Assessment.VIOLATION,
            why,
        )
        return [*rows, violation], Draft()
    assessment, why = _named("dead_letter_exchange", exchange_name)
    rows.append(
        _row("dead-letter exchange", reference["dead_letter_exchange"], found, assessment, why)
    )
    draft = Draft(dead_letter_exchange=exchange_name)

    key_value, key_source = queue.setting("x-dead-letter-routing-key")
    routing_key = key_value if isinstance(key_value, str) else queue.name
    if isinstance(key_value, str):
        assessment, why = _named("dead_letter_routing_key", routing_key)
        found_key = f"{routing_key} ({key_source})"
    else:
        assessment = Assessment.ALLOWED
        why = f"dead_letter_routing_key = {routing_key!r} (not set: messages keep their key)"
        found_key = f"none: {routing_key}"
    rows.append(
        _row(
            "dead-letter routing key",
            reference["dead_letter_routing_key"],
            found_key,
            assessment,
            why,
        )
    )
    draft = draft.merged(Draft(dead_letter_routing_key=routing_key))

    bindings = (
        await broker.bindings_from(exchange_name)
        if exchange_name
        else [(q.name, q.name) for q in queues]
    )
    targets = [dest for dest, key in bindings if routes(exchange.type, key, routing_key)]
    item, expected = "dead-letter queue", reference["dead_letter_queue"]
    if not targets:
        shown = ", ".join(f"{d} ({k!r})" for d, k in bindings) or "no binding"
        why = f"{exchange_name} routes {routing_key!r} to no queue: dead letters are lost"
        rows.append(_row(item, expected, shown, Assessment.VIOLATION, why))
        return rows, draft
    target = (
        reference["dead_letter_queue"] if reference["dead_letter_queue"] in targets else targets[0]
    )
    dead_letters = await broker.queue(target)
    if dead_letters is None or not dead_letters.durable:
        why = f"{target} is not durable: dead letters would be lost with the broker"
        rows.append(_row(item, expected, target, Assessment.VIOLATION, why))
        return rows, draft
    assessment, why = _named("dead_letter_queue", target)
    shown = target + (
        f" (also {', '.join(t for t in targets if t != target)})" if len(targets) > 1 else ""
    )
    rows.append(_row(item, expected, shown, assessment, why))
    return rows, draft.merged(Draft(dead_letter_queue=target))
