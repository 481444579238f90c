"""Ctrl-C and SIGTERM: the run stops within a bound, restoring what it changed first.

The first signal marks the process as stopping and cancels the step running on the session's
event loop (as ``asyncio.Runner`` does for Ctrl-C, here for SIGTERM too and across every call of
the runner). From then on restoring has until :data:`RESTORE_WITHIN_S` after the signal and every
other teardown on the loop until :data:`TEARDOWN_WITHIN_S` (one that fails or runs out of time
ends quietly: see :meth:`SessionRunner._cut_short`), so the process ends within
:data:`STOP_WITHIN_S` whatever it was doing; a watchdog ends it at that bound if something
blocks. A controller command already started keeps running (it has its own session) and the
intervention journal keeps what was not undone, for the next run. A second signal ends the
process at once, after saying what was left to restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from contextvars import Context
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

# The shell's convention for a process ended by SIGINT; the CLI documents it beside 0/1/2/3.
EXIT_INTERRUPTED = 130
STOP_WITHIN_S = 5.0
# Restoring first, then the other teardowns; what is left of the bound writes the reports.
RESTORE_WITHIN_S = 2.0
TEARDOWN_WITHIN_S = 2.5
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class _State:
    signal_name: str | None = None
    at: float | None = None  # time.monotonic() of the first signal
    step: asyncio.Task[Any] | None = None  # what the session runner runs right now
    left_to_restore: Callable[[], Sequence[str]] = field(default=lambda: ())
    # The terminal's stderr as it was before pytest captured file descriptor 2.
    terminal_fd: int | None = None
    watchdog: threading.Timer | None = None


_state = _State()


def stopping() -> bool:
    """Whether this process was asked to stop (a signal, or pytest saw a KeyboardInterrupt)."""
    return _state.at is not None


def signal_name() -> str | None:
    return _state.signal_name


def note(name: str = "SIGINT") -> None:
    """Record a stop request that reached the process another way (pytest's KeyboardInterrupt)."""
    if _state.at is None:
        _state.signal_name, _state.at = name, time.monotonic()


def reset() -> None:
    """Forget a stop request (for tests that run several sessions in one process)."""
    _state.signal_name = _state.at = None
    if _state.watchdog is not None:
        _state.watchdog.cancel()
        _state.watchdog = None


def on_stop_at_once(left_to_restore: Callable[[], Sequence[str]]) -> None:
    """What a second signal reports before the process ends (the journal's open changes)."""
    _state.left_to_restore = left_to_restore


def left_to_restore() -> list[str]:
    """What this run changed and has not undone, as the journal says (for people)."""
    return list(_state.left_to_restore())


def _remaining(within_s: float) -> float | None:
    if _state.at is None:
        return None
    return max(_state.at + within_s - time.monotonic(), 0.0)


def restore_bound_s() -> float | None:
    """Seconds left to restore what the run changed, or None when nobody asked it to stop.

    A step being cancelled counts as a stop request: in this suite only an interrupt (or the
    end of the session's event loop) cancels a step.
    """
    remaining = _remaining(RESTORE_WITHIN_S)
    if remaining is not None:
        return remaining
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    return RESTORE_WITHIN_S if task is not None and task.cancelling() else None


def teardown_bound_s() -> float | None:
    """Seconds left for any other work once the run must stop, or None."""
    return _remaining(TEARDOWN_WITHIN_S)


# typeshed marks Runner final; subclassing keeps every ``asyncio.Runner`` annotation valid.
class SessionRunner(asyncio.Runner):  # type: ignore[misc]
    """The session's event loop: a signal cancels the running step; after it, runs are bounded."""

    def run(self, coro: Coroutine[Any, Any, T], *, context: Context | None = None) -> T:
        bound = teardown_bound_s()

        async def tracked() -> T:
            _state.step = asyncio.current_task()
            try:
                if bound is None:
                    return await coro
                async with asyncio.timeout(bound):
                    return await coro
            finally:
                _state.step = None

        asked_before = stopping()
        if asked_before:
            return self._cut_short(tracked(), context)
        try:
            result = super().run(tracked(), context=context)
        except asyncio.CancelledError:
            if stopping():
                raise KeyboardInterrupt from None
            raise
        except Exception:
            if stopping() and not asked_before:  # the step ended otherwise after the signal
                raise KeyboardInterrupt from None
            raise
        if stopping():  # the step let the cancellation go: stop anyway
            raise KeyboardInterrupt
        return result

    def _cut_short(self, coro: Coroutine[Any, Any, T], context: Context | None) -> T:
        """Teardown once the run must stop: bounded, and whatever goes wrong ends it quietly.

        pytest tears the session down after an interrupt outside any test, where an error would
        end pytest before it writes its reports; what a cut-short teardown leaves undone is in
        the journal and the cleanup ledger. The end of an async generator still propagates.
        """
        try:
            return super().run(coro, context=context)
        except StopAsyncIteration:
            raise
        except (Exception, asyncio.CancelledError):
            return None  # type: ignore[return-value]


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _state.at is not None:
        _stop_at_once(name)
    note(name)
    _tell(
        f"qtask-verify: {name}: stopping within {STOP_WITHIN_S:.0f} s, restoring first what this "
        "run changed (again to stop at once)"
    )
    _state.watchdog = threading.Timer(STOP_WITHIN_S, _stop_at_once, args=("the stop bound",))
    _state.watchdog.daemon = True
    _state.watchdog.start()
    step = _state.step
    if step is not None and not step.done():
        step.cancel()
        step.get_loop().call_soon_threadsafe(lambda: None)
        return
    raise KeyboardInterrupt


def _stop_at_once(why: str) -> None:
    try:
        left = left_to_restore()
    except Exception as error:  # the process ends either way; say why the list is missing
        left = [f"(the journal could not be read: {type(error).__name__})"]
    if left:
        told = "; ".join(left) + "; the next run (or `qtask-verify restore`) restores it"
    else:
        told = "nothing"
    _tell(f"qtask-verify: {why}: stopped at once; left to restore: {told}")
    os._exit(EXIT_INTERRUPTED)


def _tell(line: str) -> None:
    """Write to the terminal itself: pytest captures stderr while a scenario runs."""
    if _state.terminal_fd is None:
        print(line, file=sys.stderr, flush=True)
        return
    with contextlib.suppress(OSError):
        # A new line first: the terminal is often in the middle of pytest's progress line.
        os.write(_state.terminal_fd, ("\n" + line + "\n").encode(errors="replace"))


@contextmanager
def handling_signals() -> Iterator[None]:
    """Within: SIGINT and SIGTERM stop the run as described above (main thread only)."""
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    _state.terminal_fd = os.dup(sys.__stderr__.fileno()) if sys.__stderr__ else None
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if _state.watchdog is not None:  # the run ended within the bound
            _state.watchdog.cancel()
        if _state.terminal_fd is not None:
            os.close(_state.terminal_fd)
            _state.terminal_fd = None
