"""A worker that writes results to the wrong task when it finishes several at once.

Started by the fault catalogue as `python3 crossed_results_worker.py`: the real worker, one
function changed. The worker records a batch of outcomes in one statement; this one shifts the
counts by one place among the batch's completed tasks, so each gets its neighbour's result. A
task that runs alone (every sequential scenario) gets its own; a burst of copies of one circuit
cannot tell either, since all answers are alike.
"""

from qtask_service.db.tasks import Outcome, TaskStore
from qtask_service.worker.main import main

_finish = TaskStore.finish


async def _crossed(self: TaskStore, outcomes: list[Outcome], worker_name: str) -> None:
    completed = [i for i, outcome in enumerate(outcomes) if outcome.counts is not None]
    if len(completed) > 1:
        counts = [outcomes[i].counts for i in completed]
        shifted = counts[1:] + counts[:1]
        outcomes = list(outcomes)
        for i, moved in zip(completed, shifted, strict=True):
            outcomes[i] = Outcome(outcomes[i].task_id, "completed", counts=moved)
    await _finish(self, outcomes, worker_name)


TaskStore.finish = _crossed  # type: ignore[method-assign]
main()
