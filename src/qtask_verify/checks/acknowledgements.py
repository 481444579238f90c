"""Whether the workers acknowledge the message of every task they finish.

A worker that never acknowledges (or holds messages back) still completes every task, and only
the broker shows it: the task queue's unacknowledged messages pile up. The Management API counts
them, but late: a queue reports its counts every statistics interval and the Management API
collects them every sample interval (RabbitMQ's ``collect_statistics_interval``, or a quorum
queue's tick, and the smallest interval of its ``sample_retention_policies``, 5 s each by
default), so a count read now may describe the queue up to two intervals ago. The ``samples``
the API adds do not say when a count was taken: their timestamps are laid on a grid at the time
of the request and pad the last count forward. So a count is evidence of the time after a task
finished only when read two intervals (``thresholds.statistics_interval_s``) and a margin after
it finished. The run's first finished task is the one that counts (``ConsumerWatch.finished_for``):
late in a run that time has passed and the count is read at once; run alone, the scenario waits
it out after its own task. A count that shows messages held is read again one lag later, and
before that is judged the nodes' uptimes, which advance with every collection, must show the API
renewed that often (a profile that claims a shorter interval than the broker has gets a skip,
not a verdict); a count that shows none is taken on the profile's word for the interval (the
default is RabbitMQ's own).

On a deployment shared with other traffic a message may be unacknowledged only for a task that
is pending or processing (a worker prefetches), never for a finished one. So a count above the
tasks pending or processing at any moment it may describe (the database is counted throughout)
is messages held for finished tasks; on a quiet deployment both are 0. A worker between its
commit and its ack shows such an excess for a moment, so it must persist in a count read one
more lag later.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..clients import BrokerInspector, DatabaseInspector
from ..config import Environment
from ..errors import DeploymentFault
from ..waiting import Clock, Sleep, Timeline

# Added to two statistics intervals: timers that fire late on a busy broker.
MARGIN_S = 0.5
POLL_S = 0.1
# Renewals the nodes' uptimes must show during the wait for a count to be trusted, the shortest
# at most this much longer than the statistics interval (timers drift a little).
COLLECTIONS = 2
REFRESH_TOLERANCE = 1.2

Uptimes = dict[str, int]


@dataclass(frozen=True)
class Unfinished:
    """Tasks pending or processing in the database, ``t_s`` seconds after ours finished."""

    t_s: float
    count: int


def held_for_finished(unacknowledged: int, unfinished: Sequence[Unfinished], since_s: float) -> int:
    """Unacknowledged messages beyond the most tasks that could hold one (pending or processing)
    from ``since_s`` on; above 0, messages held for finished tasks."""
    counts = [entry.count for entry in unfinished if entry.t_s >= since_s]
    return unacknowledged - max(counts, default=0)


def slower_refresh(uptimes: Sequence[Uptimes], interval_s: float, waited_s: float) -> str | None:
    """How the nodes' uptimes, read while waiting, show the Management API renewing its figures
    less often than every ``interval_s`` (None: as often, or the nodes are not readable)."""
    for node in uptimes[0] if uptimes else {}:
        values = sorted({reading[node] for reading in uptimes if node in reading})
        steps = [(later - earlier) / 1000 for earlier, later in itertools.pairwise(values)]
        if len(steps) < COLLECTIONS:
            seen = f"{len(steps)} time(s) in {waited_s:.1f} s"
        elif min(steps) > interval_s * REFRESH_TOLERANCE:
            seen = f"every {min(steps):.1f} s at best"
        else:
            continue
        return (
            f"the broker's Management API renewed its figures of node {node} {seen}, not every "
            f"{interval_s:g} s as the profile's statistics_interval_s says"
        )
    return None


async def _uptimes(broker: BrokerInspector) -> Uptimes:
    """The nodes' uptimes, or none where this account may not read the nodes."""
    try:
        return await broker.node_uptimes()
    except DeploymentFault:
        return {}


async def require_finished_acknowledged(
    broker: BrokerInspector,
    database: DatabaseInspector,
    environment: Environment,
    finished_for_s: float,
) -> str | None:
    """Called once our tasks finished, the first of the run ``finished_for_s`` ago: no message of
    a finished task stays unacknowledged.

    Returns why it could not be verified (the scenario is skipped), None once verified; raises
    DeploymentFault(workers) when messages are held for finished tasks.
    """
    queue_name = environment.expectations.queue_name
    return await judge_acknowledgements(
        lambda: broker.unacknowledged(queue_name),
        database.count_unfinished_tasks,
        lambda: _uptimes(broker),
        queue_name=queue_name,
        interval_s=environment.thresholds.statistics_interval_s,
        finished_for_s=finished_for_s,
    )


async def judge_acknowledgements(
    read_unacknowledged: Callable[[], Awaitable[int | None]],
    read_unfinished: Callable[[], Awaitable[int]],
    read_uptimes: Callable[[], Awaitable[Uptimes]],
    *,
    queue_name: str,
    interval_s: float,
    finished_for_s: float = 0.0,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> str | None:
    """The judgement of :func:`require_finished_acknowledged`, on the readings it is given."""
    unreported = (
        f"not verified: the broker's Management API reports no count of unacknowledged "
        f"messages of {queue_name} (the queue is missing or its statistics are off)"
    )
    if await read_unacknowledged() is None:
        return unreported
    lag_s = 2 * interval_s + MARGIN_S
    timeline = Timeline(clock)
    start = clock()
    unfinished: list[Unfinished] = []
    uptimes: list[Uptimes] = []
    first_due_s = max(lag_s - finished_for_s, 0.0)
    confirm_due_s: float | None = None  # once a count showed messages held
    while True:
        now_s = clock() - start
        unfinished.append(Unfinished(now_s, await read_unfinished()))
        uptimes.append(await read_uptimes())
        if now_s >= first_due_s:
            unacknowledged = await read_unacknowledged()
            if unacknowledged is None:
                return unreported
            since_s = now_s + finished_for_s - lag_s
            excess = held_for_finished(unacknowledged, unfinished, since_s)
            if excess <= 0:
                return None
            most = unacknowledged - excess
            seen = f"{queue_name}: {unacknowledged} unacknowledged; at most {most} task(s) "
            seen += "pending or processing"
            # A worker between its commit and its ack, or a count taken while tasks that have
            # finished since were in flight: a later count clears it. Held a whole lag, it is not.
            if confirm_due_s is None:
                confirm_due_s = now_s + lag_s
                timeline.note(seen)
            elif now_s >= confirm_due_s:
                if slower := slower_refresh(uptimes, interval_s, now_s):
                    return (
                        f"not verified: {slower}, so its count of unacknowledged messages may "
                        "predate our task"
                    )
                timeline.note(seen)
                raise DeploymentFault(
                    "workers",
                    f"{queue_name} still had {unacknowledged} unacknowledged message(s) "
                    f"{now_s + finished_for_s:.1f} s after the run's first task finished, while "
                    f"at most {most} task(s) were pending or processing: the workers hold the "
                    "messages of finished tasks without acknowledging them",
                    timeline.observations,
                )
        await sleep(POLL_S)
