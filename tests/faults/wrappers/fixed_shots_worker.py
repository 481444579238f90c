"""A worker that ignores the requested shots: every task runs 1024 times, the default.

Started by the fault catalogue as `python3 fixed_shots_worker.py`: the real worker, one function
changed. A Bell circuit submitted for 1024 shots cannot tell.
"""

from qtask_service.worker import simulator
from qtask_service.worker.main import main

_run = simulator.SimulatorProcess.run


async def _default_shots(
    self: simulator.SimulatorProcess, source: str, shots: int
) -> dict[str, int]:
    return await _run(self, source, 1024)


simulator.SimulatorProcess.run = _default_shots  # type: ignore[method-assign]
main()
