"""What the broker's message trace shows of the task messages: a task's message published
persistent to the task queue and delivered to a worker; no message for a refused submission.

A message is a task's when it carries the task's id anywhere (body or properties): the contract
fixes a JSON body with ``task_id``, but an implementation may add or move fields, so the id is
looked for as written rather than by a field name.
"""

from __future__ import annotations

import time

from ..clients import BrokerInspector, DatabaseInspector
from ..clients.tracing import MessageTrace, TracedMessage
from ..config import Environment
from ..deployment.ledger import CleanupLedger, ScenarioTasks
from ..errors import DeploymentFault, require
from .consumers import ConsumerWatch

PERSISTENT = 2
# The contract publishes a task's message before it answers the submission, so its traced copy
# reaches the suite within moments of the answer; longer means it was not published.
TRACE_ARRIVAL_S = 2.0
# While waiting for a delivery, the queue's consumers are counted this often.
DELIVERY_LOOK_S = 0.25
_SHOWN = 3


def _excerpt(message: TracedMessage) -> str:
    body = message.body[:120].decode(errors="replace")
    return f"{body!r} via exchange {message.exchange or '(default)'}"


async def task_message_published(
    trace: MessageTrace, task_id: str, within_s: float = TRACE_ARRIVAL_S
) -> TracedMessage:
    """The publish of the task's message, waited for up to ``within_s`` after acceptance."""
    published = await trace.wait_for(
        lambda m: m.event == "publish" and m.mentions(task_id), within_s
    )
    if published is None:
        others = sum(1 for m in trace.messages if m.event == "publish")
        raise DeploymentFault(
            "queue",
            f"the broker traced no message carrying task {task_id} within {within_s:.1f} s of "
            f"its acceptance (it traced {others} other publish(es) on the vhost meanwhile)",
        )
    return published


async def require_published_persistent(
    trace: MessageTrace, task_id: str, queue: str, within_s: float = TRACE_ARRIVAL_S
) -> TracedMessage:
    """The task's message, published with delivery mode 2 and routed to the task queue."""
    published = await task_message_published(trace, task_id, within_s)
    require(
        published.goes_to(queue),
        "queue",
        f"the message of task {task_id} was routed to "
        f"{list(published.routed_queues or []) or 'no queue'}, not to {queue} "
        f"(published to exchange {published.exchange or '(default)'} with routing keys "
        f"{list(published.routing_keys)})",
    )
    mode = published.delivery_mode
    require(
        mode == PERSISTENT,
        "queue",
        f"the message of task {task_id} was published with delivery mode "
        f"{'unset' if mode is None else mode}, not 2 (persistent): a broker restart loses it "
        "while it waits",
    )
    return published


async def require_delivered_to_worker(
    trace: MessageTrace,
    published: TracedMessage,
    task_id: str,
    broker: BrokerInspector,
    environment: Environment,
    watch: ConsumerWatch,
) -> TracedMessage:
    """The task's message delivered from the task queue to a consumer within the processing
    time limit; at once a failure when the run's watch has seen nobody consume the queue for
    ``stalled_consumers_s``."""
    queue = environment.expectations.queue_name
    within_s = environment.thresholds.processing_s
    stalled_s = environment.thresholds.stalled_consumers_s

    async def consumers() -> int | None:
        state = await broker.live_state(queue)
        return None if state is None else state.consumers

    def wanted(message: TracedMessage) -> bool:
        return message.event == "deliver" and message.queue == queue and message.mentions(task_id)

    deadline = time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        delivered = await trace.wait_for(wanted, min(left, DELIVERY_LOOK_S))
        if delivered is not None:
            return delivered
        await watch.count(consumers)
        if watch.unconsumed_for() >= stalled_s:
            raise DeploymentFault(
                "workers",
                f"the message of task {task_id} was published to {queue}, and no worker "
                f"consumes {queue} (0 consumers for {watch.unconsumed_for():.1f} s)",
            )
    elsewhere = [
        m.queue or "" for m in trace.messages if m.event == "deliver" and m.mentions(task_id)
    ]
    seen = f"; it was delivered from {sorted(set(elsewhere))}" if elsewhere else ""
    waited = time.monotonic() - published.seen_at
    raise DeploymentFault(
        "workers",
        f"the message of task {task_id} was published to {queue} but not delivered to any "
        f"consumer of it within {waited:.1f} s{seen}",
    )


async def require_no_message_for_refused(
    trace: MessageTrace,
    since: float,
    queue: str,
    proof: ScenarioTasks,
    circuit: str,
    database: DatabaseInspector,
    ledger: CleanupLedger,
    within_s: float = TRACE_ARRIVAL_S,
) -> None:
    """No message reached the task queue for the refused submissions sent since ``since``.

    A valid task submitted after them proves that the trace sees this API's messages: once its
    message is traced, every message published to the task queue in between must carry the id
    of a task that exists (in the database, or in the cleanup ledger of a run's own tasks,
    which another scenario may already have deleted). One that carries none was published for
    a request the API refused.
    """
    accepted = await proof.submit(circuit, 1)
    marker = await task_message_published(trace, accepted.task_id, within_s)
    window = [m for m in trace.since(since) if m.seen_at <= marker.seen_at and m.goes_to(queue)]
    known = {entry.task_id.lower() for entry in ledger.entries() if entry.task_id}
    unexplained = []
    for message in window:
        ids = message.uuids()
        if ids & known:
            continue
        stored = [i for i in ids if await database.fetch_task(i) is not None]
        if not stored:
            unexplained.append(message)
    shown = "; ".join(_excerpt(m) for m in unexplained[:_SHOWN])
    require(
        not unexplained,
        "api",
        f"{len(unexplained)} message(s) were published to {queue} for no stored task while "
        f"the API refused invalid submissions: {shown}",
    )
