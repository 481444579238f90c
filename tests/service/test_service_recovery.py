"""`processing` tells the truth: a worker claims no more than it is about to run, and after it
dies, the tasks it had claimed run before anything else, showing their retry in `attempts`.

Before, a worker claimed 16 tasks at once: with circuits of a second each, 32 tasks showed
`processing` for minutes after the workers were killed and the database restarted, while they
waited behind everything the dead workers had prefetched.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from conftest import Service

from qtask_verify.checks.circuits import busy_circuit

# A circuit of about a second here (19 qubits, 16 layers): twice the workers' claim window
# (0.5 s) and more, so a worker claims one at a time. (18 qubits and 12 layers took 0.3 s: a
# worker then rightly claimed three at once whenever a run came in under 0.25 s.)
SLOW_ENOUGH = busy_circuit(qubits=19, layers=16)
TASKS = 20
WORKERS = 2


async def _processing(service: Service, task_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await service.db.fetch(
        "SELECT task_id FROM tasks WHERE task_id = ANY($1::uuid[])"
        " AND current_status::text = 'processing'",
        task_ids,
    )
    return {row["task_id"] for row in rows}


async def _peak_processing(service: Service, task_ids: list[uuid.UUID], seconds: float) -> int:
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, len(await _processing(service, task_ids)))
        await asyncio.sleep(0.05)
    return peak


async def test_dead_workers_tasks_run_first_and_show_their_retry(service: Service) -> None:
    task_ids = [await service.submit(SLOW_ENOUGH, shots=16) for _ in range(TASKS)]
    await service.wait_status(task_ids[0], {"processing", "completed"}, timeout_s=60)

    # Each worker claims one such task at a time (two when it runs in under the window).
    assert await _peak_processing(service, task_ids, seconds=3.0) <= 2 * WORKERS

    orphans: set[uuid.UUID] = set()
    while not orphans:  # kill while tasks run: the gap between two tasks is milliseconds
        orphans = await _processing(service, task_ids)
    service.stack.kill("worker")
    try:
        orphans = await _processing(service, task_ids)
        assert orphans, "the workers were killed between two tasks; nothing to recover"
        unfinished = await service.db.fetch(
            "SELECT task_id FROM tasks WHERE task_id = ANY($1::uuid[])"
            " AND current_status::text <> 'completed'",
            task_ids,
        )
        service.stack.stop("database")
        service.stack.start("database")
    finally:
        service.stack.start("worker")
    await service.wait_healthy()
    await service.reconnect_database()

    for task_id in orphans:
        view = await service.wait_status(task_id, {"completed", "failed"}, timeout_s=120)
        assert (view["status"], view["attempts"]) == ("completed", 2), view
        history = [row["status"] for row in await service.history(task_id)]
        assert history == ["pending", "processing", "completed"]
    # Orphans first: by the last orphan's completion, the workers finished few other tasks
    # (the ones they ran alongside), not the backlog the dead workers had prefetched.
    finished = await service.db.fetch(
        "SELECT task_id FROM tasks WHERE task_id = ANY($1::uuid[]) AND completed_at <="
        " (SELECT max(completed_at) FROM tasks WHERE task_id = ANY($2::uuid[]))",
        [row["task_id"] for row in unfinished],
        list(orphans),
    )
    others_first = len({row["task_id"] for row in finished} - orphans)
    assert others_first <= len(orphans) + WORKERS, (others_first, len(orphans))
    for task_id in task_ids:
        await service.wait_status(task_id, {"completed"}, timeout_s=120)
