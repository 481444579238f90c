"""Refused requests: 400 naming the field, nothing stored, nothing published; 404 and health."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from conftest import BELL, Service

from qtask_service import __version__

# Longer than the broker's statistics interval (the stack sets it to 1 s; RabbitMQ's default is 5).
STATS_SETTLE_S = 1.5

INVALID_BODIES: list[tuple[str, Any, str]] = [
    ("missing qc", {"shots": 10}, "qc"),
    ("empty qc", {"qc": ""}, "qc"),
    ("blank qc", {"qc": "   \n"}, "qc"),
    ("qc not a string", {"qc": 42}, "qc"),
    ("shots zero", {"qc": BELL, "shots": 0}, "shots"),
    ("shots too many", {"qc": BELL, "shots": 100_001}, "shots"),
    ("shots a string", {"qc": BELL, "shots": "100"}, "shots"),
    ("shots a float", {"qc": BELL, "shots": 1.5}, "shots"),
    ("shots a boolean", {"qc": BELL, "shots": True}, "shots"),
    ("body not an object", [BELL], "body"),
]


async def _post_raw(service: Service, content: bytes) -> tuple[int, dict[str, Any]]:
    response = await service.api.post(
        "/tasks", content=content, headers={"content-type": "application/json"}
    )
    return response.status_code, response.json()


async def _settled_published(service: Service) -> int:
    """The publish counter once earlier tests' messages are all counted (two equal reads)."""
    previous = await service.published()
    while True:
        await asyncio.sleep(STATS_SETTLE_S)
        current = await service.published()
        if current == previous:
            return current
        previous = current


async def _assert_nothing_published(service: Service, before: int) -> None:
    """A sentinel task proves the counter moved by exactly one: the invalid ones published none.

    The Management API refreshes its counters every few seconds, so waiting for the sentinel
    to show up is what makes "nothing else" observable.
    """
    await service.submit(BELL, shots=1)
    deadline = time.monotonic() + 30
    while (published := await service.published()) < before + 1:
        assert time.monotonic() < deadline, "the sentinel never showed in the queue's counter"
        await asyncio.sleep(0.5)
    assert published == before + 1


@pytest.mark.parametrize(
    ("body", "field"),
    [(b, f) for _, b, f in INVALID_BODIES],
    ids=[name for name, _, _ in INVALID_BODIES],
)
async def test_invalid_body_is_refused_and_leaves_no_trace(
    service: Service, body: Any, field: str
) -> None:
    rows_before = await service.task_count()

    response = await service.api.post("/tasks", json=body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["status"] == "error"
    assert field in [detail["field"] for detail in answer["details"]]
    assert await service.task_count() == rows_before


async def test_malformed_json_and_oversized_body_are_refused(service: Service) -> None:
    rows_before = await service.task_count()
    published_before = await _settled_published(service)

    status, answer = await _post_raw(service, b'{"qc": "OPENQASM 3.0;", "shots": ')
    assert status == 400
    assert [detail["field"] for detail in answer["details"]] == ["body"]

    status, answer = await _post_raw(service, b'{"qc": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert status in (400, 413)
    assert [detail["field"] for detail in answer["details"]] == ["body"]

    for _, body, _ in INVALID_BODIES:
        assert (await service.api.post("/tasks", json=body)).status_code == 400
    assert await service.task_count() == rows_before
    await _assert_nothing_published(service, published_before)


async def test_unknown_task_is_404(service: Service) -> None:
    response = await service.api.get(f"/tasks/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Task not found."}


@pytest.mark.parametrize("task_id", ["not-a-uuid", "1234", "0" * 40])
async def test_malformed_task_id_is_400(service: Service, task_id: str) -> None:
    response = await service.api.get(f"/tasks/{task_id}")

    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "task_id"


async def test_health_is_healthy_and_fast(service: Service) -> None:
    started = time.perf_counter()
    response = await service.api.get("/health")
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert (body["database_status"], body["queue_status"]) == ("connected", "connected")
    assert body["version"] == __version__


async def test_openapi_documents_the_endpoints_and_version(service: Service) -> None:
    document = (await service.api.get("/openapi.json")).json()

    assert document["info"]["version"] == __version__
    assert {"/tasks", "/tasks/{task_id}", "/health"} <= set(document["paths"])
