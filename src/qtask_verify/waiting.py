"""Bounded polling that remembers what it saw, so a timeout can say what was observed.

Polling starts fast (20 ms) and backs off to a few hundred milliseconds, so a healthy deployment
is never waited on for long and a broken one is not hammered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import Observation

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

FIRST_DELAY_S = 0.02
MAX_DELAY_S = 0.25
BACKOFF_FACTOR = 1.5


class Timeline:
    """Observations with their time since the start; a repeated observation is kept once."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self.observations: list[Observation] = []

    def elapsed(self) -> float:
        return self._clock() - self._start

    def note(self, text: str) -> None:
        if not self.observations or self.observations[-1].observation != text:
            self.observations.append(Observation(round(self.elapsed(), 3), text))


def backoff_delays(
    first: float = FIRST_DELAY_S, limit: float = MAX_DELAY_S, factor: float = BACKOFF_FACTOR
) -> Callable[[], float]:
    """Return a function giving the next delay: first, first*factor, ... capped at ``limit``."""
    delay = first / factor

    def next_delay() -> float:
        nonlocal delay
        delay = min(delay * factor, limit)
        return delay

    return next_delay


@dataclass(frozen=True)
class PollResult(Generic[T]):
    value: T
    satisfied: bool
    elapsed_s: float


async def poll_until(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout_s: float,
    *,
    describe: Callable[[T], str] | None = None,
    timeline: Timeline | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    max_delay_s: float = MAX_DELAY_S,
) -> PollResult[T]:
    """Probe until ``done(value)`` or ``timeout_s`` passed; the last value says how it ended.

    ``max_delay_s`` caps the backoff, for probes that are cheap and whose answer changes at a
    known pace (e.g. statistics refreshed every second).
    """
    timeline = timeline or Timeline(clock)
    next_delay = backoff_delays(limit=max_delay_s)
    start = clock()
    while True:
        value = await probe()
        if describe is not None:
            timeline.note(describe(value))
        elapsed = clock() - start
        if done(value):
            return PollResult(value, True, elapsed)
        if elapsed >= timeout_s:
            return PollResult(value, False, elapsed)
        await sleep(min(next_delay(), max(timeout_s - elapsed, 0.0)))
