"""A worker whose simulator refuses every circuit: every task ends `failed`.

Started by the fault catalogue as `python3 failing_worker.py`: the real worker, one function
changed.
"""

from qtask_service import executor
from qtask_service.worker.main import main


def _refuse(self: executor.CircuitExecutor, source: str, shots: int) -> dict[str, int]:
    raise executor.InvalidCircuit("the simulator backend is unavailable (injected fault)")


executor.CircuitExecutor.run = _refuse  # type: ignore[method-assign]
main()
