"""Starting, watching and stopping the stack's processes.

Start-up uses mirakuru (spawn in a new session, poll a readiness check under a deadline, kill the
process group when the deadline passes or the process dies). Two of its defaults do not fit a
deployment that must outlive the command that started it, so `Launcher` changes them:
mirakuru marks children with a `mirakuru_uuid` variable and kills every marked process at
interpreter exit (`atexit`), and an executor kills its process when garbage-collected. `Launcher`
marks processes with `QTASK_STACK_ID` instead and lets go of the process once it is ready.

Later invocations know the processes only from `state.json`, so stopping works on recorded pids:
a record holds the pid (which is also the process group: every process starts its own session)
and the start time, so a recycled pid is never signalled. `sweep` finds leftovers through the
marker variable, which every descendant inherits (also those that start their own session, like
Erlang's helpers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import psutil
from mirakuru import Executor
from mirakuru.base import ENV_UUID
from mirakuru.exceptions import ProcessExitedWithError, TimeoutExpired

from qtask_stack.errors import ComponentError
from qtask_stack.state import ProcessRecord

MARKER_ENV = "QTASK_STACK_ID"
_CREATE_TIME_TOLERANCE_S = 0.05
_POLL_INTERVAL_S = 0.05


class Launcher(Executor):
    """Spawns one component detached from the caller and waits until it is ready."""

    def __init__(
        self,
        component: str,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool],
        log_path: Path,
        env: dict[str, str],
        timeout: float,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.component = component
        self.log_path = log_path
        self._ready = ready
        self._log: IO[Any] = log_path.open("ab")
        popen_kwargs: dict[str, Any] = {}
        if user is not None:
            # Drop root's supplementary groups too, not only the uid.
            popen_kwargs = {"user": user, "group": user, "extra_groups": []}
        super().__init__(
            list(argv),
            cwd=str(cwd) if cwd else None,
            timeout=timeout,
            sleep=0.05,
            envvars=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            popen_kwargs=popen_kwargs,
        )

    @property
    def envvars(self) -> dict[str, str]:
        """The environment without mirakuru's marker, so its atexit hook leaves ours alone."""
        env = os.environ.copy()
        env.update(self._envvars)
        env.pop(ENV_UUID, None)
        return env

    def pre_start_check(self) -> bool:
        """Whether to start is decided from the recorded state, not by probing."""
        return False

    def check_subprocess(self) -> bool:
        """Ready when the check passes; any exit during start-up (even 0) is a failure."""
        assert self.process is not None
        exit_code = self.process.poll()
        if exit_code is not None:
            raise ProcessExitedWithError(self, exit_code)
        try:
            return self._ready()
        except OSError:
            return False

    def spawn(self) -> ProcessRecord:
        """Start the process without waiting, so several components can boot in parallel."""
        self._log.write(f"--- qtask-stack: starting {self.component} at {time.ctime()}\n".encode())
        self._log.flush()
        super(Executor, self).start()
        assert self.process is not None
        return ProcessRecord(pid=self.process.pid, create_time=_create_time(self.process.pid))

    def wait_ready(self) -> None:
        """Block until ready; on failure the process group is gone and ComponentError says why."""
        self._set_timeout()
        try:
            self.wait_for(self.check_subprocess)
        except TimeoutExpired:
            raise ComponentError(
                self.component,
                f"not ready within {self._timeout:.0f} s",
                log_tail(self.log_path),
            ) from None
        except ProcessExitedWithError as exc:
            self.kill()
            raise ComponentError(
                self.component, f"exited with code {exc.exit_code}", log_tail(self.log_path)
            ) from None
        finally:
            self._log.close()
        # Let go: the process belongs to the stack now, not to this executor's lifetime.
        self.process = None


def is_alive(record: ProcessRecord | None) -> bool:
    """Whether the recorded process still runs (a zombie or a recycled pid does not count)."""
    if record is None:
        return False
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.create_time) > _CREATE_TIME_TOLERANCE_S:
            return False
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(record.pid)
            return False
    except psutil.NoSuchProcess:
        return False
    return True


def terminate(targets: Sequence[tuple[ProcessRecord, int]], timeout: float) -> None:
    """Stop gracefully and together: each leader gets its signal, SIGKILL follows `timeout`.

    The leader gets the signal alone because it coordinates its children's shutdown (PostgreSQL's
    postmaster, RabbitMQ's start script); whatever is left in a group afterwards is killed. All
    targets are signalled first and then awaited, so N processes take one grace period, not N.
    """
    running = [record for record, _ in targets if is_alive(record)]
    for record, stop_signal in targets:
        if record in running:
            _signal_pid(record.pid, stop_signal)
    stragglers = _wait_gone(running, timeout)
    for record in stragglers:
        _signal_group(record.pid, signal.SIGKILL)
    _wait_gone(stragglers, timeout)
    for record, _ in targets:
        _signal_group(record.pid, signal.SIGKILL)


@contextmanager
def uninterruptible() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends: a stop is never left half done.

    A signal that arrives meanwhile is delivered when the block ends (Ctrl-C still stops the
    command, once the component is down and the state saved).
    """
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def kill(records: Sequence[ProcessRecord]) -> None:
    """SIGKILL whole process groups at once: a crash, as fault-injection tests want it."""
    running = [record for record in records if is_alive(record)]
    for record in running:
        _signal_group(record.pid, signal.SIGKILL)
    _wait_gone(running, 10.0)


def sweep(stack_id: str) -> list[int]:
    """SIGKILL every process that carries this stack's marker (SIGKILL is certain: no wait)."""
    killed: list[psutil.Process] = []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid() or process.environ().get(MARKER_ENV) != stack_id:
                continue
            process.kill()
            killed.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return [process.pid for process in killed]


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log, which is where a failed start says why."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _create_time(pid: int) -> float:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return 0.0


def _wait_gone(records: Sequence[ProcessRecord], timeout: float) -> list[ProcessRecord]:
    """Wait until the processes are gone; returns the survivors.

    A zombie counts as gone. psutil's `wait_procs` waits for the pid to disappear, which for a
    process whose parent has exited depends on how promptly init reaps it (seconds, on some
    machines), so this polls `is_alive` instead.
    """
    deadline = time.monotonic() + timeout
    alive = [record for record in records if is_alive(record)]
    while alive and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL_S)
        alive = [record for record in alive if is_alive(record)]
    return alive


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
