"""What a read-only gate can honestly verify of a deployment in service, without touching it.

Health, the broker and the consumers are checked by the health feature. Here: the real users'
recent tasks finish (every one older than the processing limit is completed or failed, and not
all of them failed), no real task is stuck pending or processing for longer than the stuck-task
limit, and the dead-letter queue did not grow over the last window (the broker's own samples,
so nothing is waited for). "Real" tasks are those the suite did not submit: its submissions
carry its marker. Limits are the profile's thresholds. When nobody submitted a task in the
window, the first check has nothing to observe and says so: it is never passed for want of data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ..clients import BrokerInspector, DatabaseInspector, TaskAge
from ..config import Environment
from ..deployment.ledger import MARKER_PREFIX
from ..errors import Component, DeploymentFault, require

UNFINISHED = ("pending", "processing")
_SHOWN = 3  # task ids quoted in a diagnosis
_STUCK_LISTED = 20  # stuck tasks read at most (the diagnosis says "20+")
# Who a task stuck in a status waits for: pending, the queue to deliver it; processing, a worker.
STUCK_COMPONENT: dict[str, Component] = {"pending": "queue", "processing": "workers"}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _ids(tasks: Sequence[TaskAge]) -> str:
    shown = ", ".join(t.task_id for t in tasks[:_SHOWN])
    return shown + (f" and {len(tasks) - _SHOWN} more" if len(tasks) > _SHOWN else "")


async def settled_real_tasks(database: DatabaseInspector, env: Environment) -> list[TaskAge]:
    """Real tasks of the recent window that have had the processing limit to finish."""
    recent = await database.recent_real_tasks(env.thresholds.recent_window_s, MARKER_PREFIX)
    return [t for t in recent if t.age_s > env.thresholds.processing_s]


def nothing_to_observe(env: Environment) -> str:
    window = _duration(env.thresholds.recent_window_s)
    return (
        f"not observable: no real task was submitted in the last {window} and older than the "
        f"processing limit of {env.thresholds.processing_s:g} s"
    )


def require_recent_tasks_finished(tasks: Sequence[TaskAge], env: Environment) -> None:
    """Every settled recent task is completed or failed."""
    unfinished = [t for t in tasks if t.status in UNFINISHED]
    window, limit = _duration(env.thresholds.recent_window_s), env.thresholds.processing_s
    require(
        not unfinished,
        "workers",
        f"{len(unfinished)} of {len(tasks)} real task(s) submitted in the last {window} are "
        f"still {'/'.join(sorted({t.status for t in unfinished}))} after more than {limit:g} s: "
        f"{_ids(unfinished)}",
    )


def require_not_all_failed(tasks: Sequence[TaskAge], env: Environment) -> None:
    """At least one settled recent task completed: failing every task is not serving."""
    failed = [t for t in tasks if t.status == "failed"]
    require(
        len(failed) < len(tasks),
        "workers",
        f"all {len(tasks)} real task(s) that finished in the last "
        f"{_duration(env.thresholds.recent_window_s)} failed "
        f"(the latest: {(failed[0].error_message if failed else None) or 'no error message'})",
    )


@dataclass(frozen=True)
class Stuck:
    status: str
    tasks: list[TaskAge]


async def stuck_real_tasks(database: DatabaseInspector, env: Environment, status: str) -> Stuck:
    """Real tasks ``status`` (pending or processing) for longer than the stuck-task limit."""
    if status not in STUCK_COMPONENT:
        raise ValueError(f"no stuck-task check for status {status!r} (pending or processing)")
    found = await database.real_tasks_stuck(status, env.thresholds.stuck_task_s, MARKER_PREFIX)
    return Stuck(status, found)


def require_none_stuck(stuck: Stuck, env: Environment) -> None:
    tasks, limit = stuck.tasks, env.thresholds.stuck_task_s
    oldest = f" (the oldest for {_duration(tasks[0].age_s)})" if tasks else ""
    require(
        not tasks,
        STUCK_COMPONENT[stuck.status],
        f"{len(tasks)}{'+' if len(tasks) >= _STUCK_LISTED else ''} real task(s) have been "
        f"{stuck.status} for more than {_duration(limit)}{oldest}: {_ids(tasks)}",
    )


async def dead_letter_samples(broker: BrokerInspector, env: Environment) -> list[int]:
    """The dead-letter queue's length over the last window, oldest first, as the broker sampled."""
    name = env.expectations.dead_letter_queue
    series = await broker.queue_series(name, env.thresholds.dead_letter_window_s)
    if series is None:
        raise DeploymentFault("queue", f"the dead-letter queue {name} does not exist")
    return [length for _, length in series.lengths]


def growth_not_observable(samples: Sequence[int], env: Environment) -> str | None:
    """Why the dead-letter queue's growth cannot be judged, if it cannot: growth needs two of
    the broker's samples (none come while its statistics are off or the window is shorter than
    its sampling interval), and no growth seen is never a pass without them."""
    if len(samples) >= 2:
        return None
    return (
        f"not observable: the broker gave {len(samples)} sample(s) of "
        f"{env.expectations.dead_letter_queue}'s length over the last "
        f"{_duration(env.thresholds.dead_letter_window_s)} (two are needed to see growth)"
    )


def require_no_dead_letters(samples: Sequence[int], env: Environment) -> None:
    """No message arrived in the dead-letter queue over the window (growth between samples)."""
    added = sum(max(later - earlier, 0) for earlier, later in itertools.pairwise(samples))
    require(
        added == 0,
        "queue",
        f"{added} message(s) were dead-lettered to {env.expectations.dead_letter_queue} in the "
        f"last {_duration(env.thresholds.dead_letter_window_s)} "
        f"(it holds {samples[-1] if samples else 0})",
    )
