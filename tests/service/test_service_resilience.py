"""Faults on the real stack: a worker killed mid-task, broker and database outages, load.

Each test that breaks a component brings it back before it ends: the stack is the session's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
from conftest import BELL, Service

# A mid-circuit measurement makes Aer simulate shot by shot: seconds of work to kill a worker in.
SLOW = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[14] q;\nbit[14] c;\n'
    + "".join(f"h q[{i}];\n" for i in range(14))
    + "c[0] = measure q[0];\n"
    + "".join(f"cx q[{i}], q[{i + 1}];\n" for i in range(13)) * 4
    + "c = measure q;\n"
)


async def test_worker_killed_mid_task_completes_it_exactly_once(service: Service) -> None:
    task_id = await service.submit(SLOW, shots=100_000)
    await service.wait_status(task_id, {"processing"})

    service.stack.kill("worker")  # both: whichever holds the task dies mid-execution
    assert (await service.api.get(f"/tasks/{task_id}")).json()["status"] == "processing"
    service.stack.start("worker")

    view = await service.wait_status(task_id, {"completed", "failed"}, timeout_s=120)
    assert view["status"] == "completed"
    assert sum(view["result"].values()) == 100_000
    history = [row["status"] for row in await service.history(task_id)]
    assert history == ["pending", "processing", "completed"]


async def test_broker_down_refuses_submissions_cleanly_and_recovers(service: Service) -> None:
    rows_before = await service.task_count()
    service.stack.stop("broker")
    try:
        started = time.perf_counter()
        response = await service.api.post("/tasks", json={"qc": BELL})
        assert time.perf_counter() - started < 5
        assert response.status_code == 503
        assert response.json()["status"] == "error"
        assert await service.task_count() == rows_before

        started = time.perf_counter()
        health = await service.api.get("/health")
        assert time.perf_counter() - started < 2
        assert health.status_code == 503
        body = health.json()
        assert (body["status"], body["queue_status"]) == ("unhealthy", "disconnected")
        assert body["database_status"] == "connected"
        assert "queue" in body["failing"]
    finally:
        service.stack.start("broker")

    await service.wait_healthy()
    task_id = await service.submit(BELL, shots=64)
    view = await service.wait_status(task_id, {"completed"}, timeout_s=60)
    assert sum(view["result"].values()) == 64


async def test_database_down_is_named_never_a_500_and_recovers(service: Service) -> None:
    known = await service.submit(BELL, shots=16)
    await service.wait_status(known, {"completed"})
    service.stack.stop("database")
    try:
        started = time.perf_counter()
        health = await service.api.get("/health")
        assert time.perf_counter() - started < 2
        assert health.status_code == 503
        body = health.json()
        assert (body["status"], body["database_status"]) == ("unhealthy", "disconnected")
        assert "database" in body["failing"]

        for request in (
            service.api.post("/tasks", json={"qc": BELL}),
            service.api.get(f"/tasks/{known}"),
        ):
            response = await request
            assert response.status_code == 503
            assert "Traceback" not in response.text
    finally:
        service.stack.start("database")

    await service.wait_healthy()
    task_id = await service.submit(BELL, shots=32)
    view = await service.wait_status(task_id, {"completed"}, timeout_s=60)
    assert sum(view["result"].values()) == 32


async def test_200_concurrent_submissions_all_complete_once(service: Service) -> None:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(
        base_url=service.env["QTASK_API_URL"], limits=limits, timeout=60
    ) as api:
        responses = await asyncio.gather(
            *(api.post("/tasks", json={"qc": BELL, "shots": 256}) for _ in range(200))
        )
    assert [r.status_code for r in responses] == [200] * 200
    task_ids = [uuid.UUID(r.json()["task_id"]) for r in responses]
    service.created.extend(task_ids)
    assert len(set(task_ids)) == 200

    deadline = time.monotonic() + 120
    while True:
        statuses = dict(
            await service.db.fetch(
                "SELECT task_id, current_status::text FROM tasks WHERE task_id = ANY($1::uuid[])",
                task_ids,
            )
        )
        if all(status == "completed" for status in statuses.values()) or (
            time.monotonic() > deadline
        ):
            break
        await asyncio.sleep(0.5)
    assert Counter(statuses.values()) == Counter({"completed": 200})
    transitions = await service.db.fetch(
        "SELECT status::text, count(*) FROM status_history WHERE task_id = ANY($1::uuid[])"
        " GROUP BY status",
        task_ids,
    )
    assert dict(transitions) == {"pending": 200, "processing": 200, "completed": 200}


async def test_worker_exits_cleanly_on_sigterm(service: Service) -> None:
    log = service.stack.state_dir / "logs" / "worker-1.log"
    started = time.perf_counter()
    service.stack.stop("worker", 1)  # SIGTERM; the stack would SIGKILL only after 30 s
    try:
        assert time.perf_counter() - started < 15
        assert log.read_text().rstrip().endswith("stopped")
        task_id = await service.submit(BELL, shots=128)  # the other worker still serves
        view = await service.wait_status(task_id, {"completed"})
        assert sum(view["result"].values()) == 128
    finally:
        service.stack.start("worker", 1)
