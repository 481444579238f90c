"""The worker's circuits run in a child process, so that one over the time limit can be stopped.

Aer simulates in native code that no thread can interrupt: a circuit that runs for an hour would
hold its worker for an hour. In a child process it can be killed. The worker writes the child one
task at a time on its standard input and awaits the answer on its standard output, without
blocking its event loop (the AMQP heartbeats keep flowing); past `execution_timeout_s` it kills
the child, fails the task with the reason and starts a new child. A child that dies by itself
(out of memory, a crash in native code) fails its task the same way. The pipe costs well under a
millisecond per task.

The child is `python -m qtask_service.worker.simulator`, not a multiprocessing child, which would
re-run the parent's main script (a wrapper that starts a worker, say). It ignores SIGINT and
SIGTERM: a worker asked to stop finishes its current task, then closes the pipe, on which the
child exits. It dies with the worker (Linux's parent-death signal), so a killed worker leaves no
simulation running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import struct
import sys
from typing import Any, BinaryIO

import orjson

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0  # importing Qiskit takes seconds on a loaded machine
_STOP_TIMEOUT_S = 5.0
_FRAME_HEADER = struct.Struct(">I")  # each message: its length, then that much JSON
_PR_SET_PDEATHSIG = 1
# Run once before the child says it is ready: Qiskit loads much of itself on first use (hundreds
# of milliseconds), which would otherwise count against the first task's time limit.
_WARM_UP = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


class TaskFailed(Exception):
    """The task cannot complete; the message says why, in words meant for the user."""


class SimulatorProcess:
    """One child process running a `CircuitExecutor`; `run` a task, `close` when done."""

    def __init__(self, *, cache_size: int, max_qubits: int, timeout_s: float) -> None:
        self._argv = [
            sys.executable,
            "-m",
            __name__,
            str(cache_size),
            str(max_qubits),
            str(os.getpid()),
        ]
        self._timeout_s = timeout_s
        self._child: asyncio.Task[asyncio.subprocess.Process] | None = None

    def start(self) -> None:
        """Spawn the child; `wait_ready` (or the first `run`) waits until it has loaded Qiskit."""
        self._child = asyncio.ensure_future(self._spawn())

    async def wait_ready(self) -> asyncio.subprocess.Process:
        """The running child, once it answered; TaskFailed if it could not start."""
        if self._child is None:
            self.start()
        assert self._child is not None
        return await asyncio.shield(self._child)

    async def run(self, source: str, shots: int) -> dict[str, int]:
        """The counts of `shots` runs; TaskFailed (invalid circuit, time limit, crash) otherwise."""
        process = await self.wait_ready()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(_frame({"source": source, "shots": shots}))
            async with asyncio.timeout(self._timeout_s):
                await process.stdin.drain()
                answer = await _read_frame(process.stdout)
        except TimeoutError:
            await self._replace(process)
            raise TaskFailed(
                f"the simulation did not finish within {self._timeout_s:g} s, this service's "
                "execution time limit"
            ) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            ending = _ending(await process.wait())
            await self._replace(process)
            raise TaskFailed(
                f"the simulator process stopped while running the circuit{ending}"
            ) from None
        if "counts" in answer:
            counts: dict[str, int] = answer["counts"]
            return counts
        raise TaskFailed(answer["error"])

    async def close(self) -> None:
        """Close the child's input, on which it exits; kill it if it does not."""
        child, self._child = self._child, None
        if child is None:
            return
        if not child.done():
            child.cancel()
        try:
            process = await child
        except (asyncio.CancelledError, TaskFailed):
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _spawn(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                await _read_frame(process.stdout)
        except (TimeoutError, asyncio.IncompleteReadError):
            if process.returncode is None:
                process.kill()
            raise TaskFailed(
                f"the simulator process could not start{_ending(await process.wait())}"
            ) from None
        return process

    async def _replace(self, process: asyncio.subprocess.Process) -> None:
        log.warning("replacing the simulator process")
        if process.returncode is None:
            process.kill()
            await process.wait()
        self.start()


def _frame(message: dict[str, Any]) -> bytes:
    payload = orjson.dumps(message)
    return _FRAME_HEADER.pack(len(payload)) + payload


async def _read_frame(stream: asyncio.StreamReader) -> dict[str, Any]:
    (length,) = _FRAME_HEADER.unpack(await stream.readexactly(_FRAME_HEADER.size))
    message: dict[str, Any] = orjson.loads(await stream.readexactly(length))
    return message


def _ending(returncode: int) -> str:
    """How the child ended, for a message: the signal that killed it, or its exit code."""
    if returncode < 0:
        return f" (killed by {signal.Signals(-returncode).name})"
    return f" (exit code {returncode})"


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _serve(cache_size: int, max_qubits: int, parent_pid: int) -> None:
    """The child: answer `{"counts": ...}` or `{"error": ...}` per request until input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the worker died before the death signal was set
        return
    # Frames go to the original standard output; anything else printing there goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    logging.getLogger("qiskit").setLevel(logging.WARNING)
    from qtask_service.executor import CircuitExecutor, InvalidCircuit

    executor = CircuitExecutor(cache_size, max_qubits)
    executor.run(_WARM_UP, 1)
    answers.write(_frame({"ready": True}))
    answers.flush()
    while (header := _read_exactly(requests, _FRAME_HEADER.size)) is not None:
        (length,) = _FRAME_HEADER.unpack(header)
        payload = _read_exactly(requests, length)
        if payload is None:
            return
        request = orjson.loads(payload)
        try:
            answer: dict[str, Any] = {"counts": executor.run(request["source"], request["shots"])}
        except InvalidCircuit as exc:
            answer = {"error": str(exc)}
        except Exception as exc:  # the simulator itself broke: the task fails, with the reason
            answer = {"error": f"the simulator failed: {exc}"}
        answers.write(_frame(answer))
        answers.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
