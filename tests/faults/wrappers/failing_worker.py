"""A worker whose simulator refuses every circuit: every task ends `failed`.

Started by the fault catalogue as `python3 failing_worker.py`: the real worker, one function
changed.
"""

from qtask_service.worker import simulator
from qtask_service.worker.main import main


async def _refuse(self: simulator.SimulatorProcess, source: str, shots: int) -> dict[str, int]:
    raise simulator.TaskFailed("the simulator backend is unavailable (injected fault)")


simulator.SimulatorProcess.run = _refuse  # type: ignore[method-assign]
main()
