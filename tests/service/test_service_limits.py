"""Limits on what one task may cost: qubits (refused once parsed) and execution time (the task
fails with the reason, the worker goes on). The simulator runs in a child process of the worker,
which these tests start for real."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
from conftest import BELL, Service

from qtask_service.executor import CircuitExecutor, InvalidCircuit
from qtask_service.worker.simulator import SimulatorProcess, TaskFailed
from qtask_verify.checks.circuits import busy_circuit

# Seconds of simulation (20 qubits, 16 layers): the suite's own busy circuit.
BUSY = busy_circuit()


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatorProcess]:
    process = SimulatorProcess(cache_size=4, max_qubits=24, timeout_s=1.0)
    try:
        await process.wait_ready()
        yield process
    finally:
        await process.close()


async def test_a_circuit_over_the_time_limit_fails_and_the_next_one_runs(
    simulator: SimulatorProcess,
) -> None:
    with pytest.raises(TaskFailed, match=r"did not finish within 1 s, this service's execution"):
        await simulator.run(BUSY, 10)

    counts = await simulator.run(BELL, 100)
    assert sum(counts.values()) == 100


async def test_a_simulator_that_dies_fails_its_task_and_is_replaced(
    simulator: SimulatorProcess,
) -> None:
    child = await simulator.wait_ready()
    running = asyncio.create_task(simulator.run(BUSY, 10))
    await asyncio.sleep(0.3)
    os.kill(child.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would

    with pytest.raises(TaskFailed, match=r"stopped while running the circuit \(killed by SIGKILL"):
        await running
    assert sum((await simulator.run(BELL, 10)).values()) == 10


async def test_the_simulator_exits_when_the_worker_closes_it() -> None:
    process = SimulatorProcess(cache_size=4, max_qubits=24, timeout_s=5.0)
    child = await process.wait_ready()

    await process.close()

    assert child.returncode == 0


def test_a_circuit_over_the_qubit_limit_is_refused_once_parsed() -> None:
    executor = CircuitExecutor(cache_size=0, max_qubits=4)
    five = BELL.replace("qubit[2] q;", "qubit[5] q;").replace("bit[2] c;", "bit[5] c;")

    with pytest.raises(InvalidCircuit, match="has 5 qubits; this service runs at most 4"):
        executor.run(five, 10)
    assert sum(executor.run(BELL, 10).values()) == 10


async def test_a_task_over_the_time_limit_fails_and_the_worker_goes_on(service: Service) -> None:
    # One worker with a 1 s limit; the other stopped so that it gets the task.
    service.stack.stop("worker", 2)
    service.stack.restart("worker", 1, env={"QTASK_SERVICE_EXECUTION_TIMEOUT_S": "1"})
    try:
        slow = await service.submit(BUSY, shots=10)
        view = await service.wait_status(slow, {"completed", "failed"}, timeout_s=60)
        assert view["status"] == "failed"
        assert "execution time limit" in view["error"]
        history = [row["status"] for row in await service.history(slow)]
        assert history == ["pending", "processing", "failed"]

        quick = await service.submit(BELL, shots=64)
        after = await service.wait_status(quick, {"completed", "failed"}, timeout_s=60)
        assert after["status"] == "completed"
    finally:
        service.stack.restart("worker", 1)
        service.stack.start("worker", 2)
