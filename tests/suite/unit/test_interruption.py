"""Ctrl-C and SIGTERM: the running step is cancelled, restoring is bounded, later work too."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from qtask_verify import interruption


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    interruption.reset()
    yield
    interruption.reset()


def _signal_soon(signum: int, after_s: float = 0.1) -> None:
    threading.Timer(after_s, os.kill, args=(os.getpid(), signum)).start()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_the_step_whose_finally_restores_within_the_bound(
    signum: int,
) -> None:
    seen: dict[str, float | None] = {}

    async def step() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            seen["bound"] = interruption.restore_bound_s()

    with interruption.handling_signals(), interruption.SessionRunner() as runner:
        _signal_soon(signum)
        with pytest.raises(KeyboardInterrupt):
            runner.run(step())
    bound = seen["bound"]
    assert bound is not None and 0 < bound <= interruption.RESTORE_WITHIN_S
    assert interruption.stopping()
    assert interruption.signal_name() == signal.Signals(signum).name


def test_after_a_signal_every_run_of_the_loop_is_bounded_and_ends_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest's session teardown after an interrupt must not raise, or no report is written."""
    monkeypatch.setattr(interruption, "TEARDOWN_WITHIN_S", 0.3)

    async def failing() -> None:
        raise ConnectionError("the broker is down")

    async def generator_end() -> None:
        raise StopAsyncIteration

    with interruption.handling_signals(), interruption.SessionRunner() as runner:
        _signal_soon(signal.SIGINT, 0.05)
        with pytest.raises(KeyboardInterrupt):
            runner.run(asyncio.sleep(30))
        started = time.monotonic()
        assert runner.run(asyncio.sleep(30)) is None  # a teardown that would wait too long
        assert time.monotonic() - started < 1.0
        assert runner.run(failing()) is None
        with pytest.raises(StopAsyncIteration):
            runner.run(generator_end())


def test_outside_the_loop_a_signal_is_a_keyboard_interrupt() -> None:
    with interruption.handling_signals(), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        threading.Event().wait(5)  # the handler runs as soon as the main thread can


def test_without_a_signal_nothing_is_bounded() -> None:
    async def bounds() -> tuple[float | None, float | None]:
        return interruption.restore_bound_s(), interruption.teardown_bound_s()

    with interruption.SessionRunner() as runner:
        assert runner.run(bounds()) == (None, None)


async def test_a_cancelled_task_restores_with_the_bound_even_unsignalled() -> None:
    """xdist workers and plain pytest: asyncio.Runner's own Ctrl-C handling cancels the step."""
    seen: list[float | None] = []

    async def step() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            seen.append(interruption.restore_bound_s())

    task = asyncio.create_task(step())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [interruption.RESTORE_WITHIN_S]
