"""A task's life through the real API, queue, worker and database."""

from __future__ import annotations

import json
import uuid

from conftest import BELL, Service


async def test_bell_circuit_completes_with_valid_counts(service: Service) -> None:
    task_id = await service.submit(BELL, shots=1024)

    view = await service.wait_status(task_id, {"completed", "failed"})

    assert view["status"] == "completed", view
    counts = view["result"]
    assert sum(counts.values()) == 1024
    assert set(counts) <= {"00", "11"}
    # Binomial(1024, 0.5): 6 standard deviations (16 each) around 512.
    assert all(512 - 96 <= counts.get(bits, 0) <= 512 + 96 for bits in ("00", "11")), counts
    history = await service.history(task_id)
    assert [row["status"] for row in history] == ["pending", "processing", "completed"]
    times = [row["transitioned_at"] for row in history]
    assert times == sorted(times)


async def test_api_view_equals_the_database(service: Service) -> None:
    task_id = await service.submit(BELL, shots=100)
    view = await service.wait_status(task_id, {"completed"})

    row = await service.db.fetchrow(
        "SELECT circuit, shots, current_status::text AS status, result, error_message"
        " FROM tasks WHERE task_id = $1",
        task_id,
    )

    assert row["circuit"] == BELL
    assert (row["status"], row["shots"]) == (view["status"], view["shots"])
    assert json.loads(row["result"]) == view["result"]
    assert row["error_message"] is None


async def test_pending_task_says_it_is_in_progress(service: Service) -> None:
    # Read right after submission: pending or processing both answer the in-progress message,
    # unless a fast worker already finished it.
    task_id = await service.submit(BELL, shots=10)
    view = (await service.api.get(f"/tasks/{task_id}")).json()
    if view["status"] in {"pending", "processing"}:
        assert view["message"] == "Task is still in progress."
    else:
        assert view["status"] == "completed"


async def test_invalid_qasm_is_accepted_then_failed_with_a_readable_error(
    service: Service,
) -> None:
    task_id = await service.submit("OPENQASM 3.0;\nqubit[1] q;\nnot_a_gate q[0];\n")

    view = await service.wait_status(task_id, {"completed", "failed"})

    assert view["status"] == "failed"
    assert "OpenQASM" in view["error"]
    assert "Traceback" not in view["error"]
    history = await service.history(task_id)
    assert [row["status"] for row in history] == ["pending", "processing", "failed"]


async def test_circuit_alias_is_accepted(service: Service) -> None:
    response = await service.api.post("/tasks", json={"circuit": BELL, "shots": 8})
    assert response.status_code == 200
    task_id = uuid.UUID(response.json()["task_id"])
    service.created.append(task_id)
    assert response.json()["message"] == "Task submitted successfully."
    view = await service.wait_status(task_id, {"completed"})
    assert sum(view["result"].values()) == 8
