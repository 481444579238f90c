"""A worker that writes every measured bitstring in reverse: qubit 0 leftmost, not rightmost.

Started by the fault catalogue as `python3 reversed_bits_worker.py`: the real worker, one
function changed. A Bell pair (00 and 11) reads the same both ways, so it cannot tell.
"""

from qtask_service.worker import simulator
from qtask_service.worker.main import main

_run = simulator.SimulatorProcess.run


async def _reversed(self: simulator.SimulatorProcess, source: str, shots: int) -> dict[str, int]:
    counts = await _run(self, source, shots)
    return {bits[::-1]: count for bits, count in counts.items()}


simulator.SimulatorProcess.run = _reversed  # type: ignore[method-assign]
main()
