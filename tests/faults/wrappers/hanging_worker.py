"""A worker whose execution crashes after the task was claimed, leaving it `processing` forever.

The real worker; the simulator raises an unexpected error, which the consumer logs and leaves
the message unacknowledged while the process lives on: the task is never finished nor redelivered.
"""

from qtask_service import executor
from qtask_service.worker.main import main


def _crash(self: executor.CircuitExecutor, source: str, shots: int) -> dict[str, int]:
    raise RuntimeError("simulator crashed (injected fault)")


executor.CircuitExecutor.run = _crash  # type: ignore[method-assign]
main()
