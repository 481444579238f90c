"""A worker that leaves the counts of several classical registers as Qiskit prints them, one
register per space-separated group ("11 01"), instead of one flat bitstring ("1101").

Started by the fault catalogue as `python3 unflattened_registers_worker.py`: the real worker,
whose simulator process is this script too (`--simulator`), with the executor's flattening left
out. Circuits with one register (all but one of the suite's) are not affected.
"""

import sys

from qtask_service import executor
from qtask_service.worker import simulator

SIMULATOR_FLAG = "--simulator"


def _unflattened(self: executor.CircuitExecutor, source: str, shots: int) -> dict[str, int]:
    circuit = self._compiled(source)
    try:
        result = self._simulator.run(circuit, shots=shots).result()
        counts: dict[str, int] = dict(result.get_counts(circuit))
    except Exception as exc:
        raise executor.InvalidCircuit(f"the simulator could not run the circuit: {exc}") from exc
    return counts


if sys.argv[1:2] == [SIMULATOR_FLAG]:
    executor.CircuitExecutor.run = _unflattened  # type: ignore[method-assign]
    simulator._serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
else:
    from qtask_service.worker.main import main

    _init = simulator.SimulatorProcess.__init__

    def _init_with_this_child(self: simulator.SimulatorProcess, **kwargs: int | float) -> None:
        _init(self, **kwargs)  # type: ignore[arg-type]
        self._argv[1:3] = [__file__, SIMULATOR_FLAG]  # instead of `-m qtask_service.worker...`

    simulator.SimulatorProcess.__init__ = _init_with_this_child  # type: ignore[method-assign]
    main()
