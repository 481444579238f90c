"""Refused requests: 400 naming the field, nothing stored, nothing published; 404 and health."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aio_pika
import pytest
from conftest import BELL, QUEUE, Service

from qtask_service import __version__

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
    # Text PostgreSQL cannot store: JSON carries it as \u0000 and lone \ud800 escapes.
    ("qc with a NUL", {"qc": BELL + "\x00"}, "qc"),
    ("qc with a lone surrogate", {"qc": BELL.replace("c = measure", "\ud800 c = measure")}, "qc"),
    ("circuit with a NUL", {"circuit": "OPENQASM 3.0;\x00"}, "circuit"),
    ("qc over the qubit limit", {"qc": BELL.replace("qubit[2]", "qubit[30]")}, "qc"),
]


async def _post_json(service: Service, body: Any) -> tuple[int, dict[str, Any]]:
    """POST a body as JSON text with every non-ASCII character escaped (`\\u0000`), as any
    JSON encoder may send it."""
    return await _post_raw(service, json.dumps(body).encode())


async def _post_raw(service: Service, content: bytes) -> tuple[int, dict[str, Any]]:
    response = await service.api.post(
        "/tasks", content=content, headers={"content-type": "application/json"}
    )
    return response.status_code, response.json()


async def _queued(service: Service) -> int:
    """Messages in the task queue now (AMQP declare-ok: exact, unlike the Management API's
    statistics, which lag by a few intervals)."""
    connection = await aio_pika.connect(service.env["QTASK_AMQP_URL"])
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(QUEUE, passive=True)
        count: int = queue.declaration_result.message_count
        return count
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [(b, f) for _, b, f in INVALID_BODIES],
    ids=[name for name, _, _ in INVALID_BODIES],
)
async def test_invalid_body_is_refused_and_leaves_no_trace(
    service: Service, body: Any, field: str
) -> None:
    rows_before = await service.task_count()

    status, answer = await _post_json(service, body)

    assert status == 400
    assert answer["status"] == "error"
    assert field in [detail["field"] for detail in answer["details"]]
    assert await service.task_count() == rows_before


async def test_malformed_json_and_oversized_body_are_refused(service: Service) -> None:
    service.stack.stop("worker")  # messages stay in the queue, where they can be counted
    try:
        await _refused_without_trace(service)
    finally:
        service.stack.start("worker")


async def _refused_without_trace(service: Service) -> None:
    rows_before = await service.task_count()
    queued_before = await _queued(service)

    status, answer = await _post_raw(service, b'{"qc": "OPENQASM 3.0;", "shots": ')
    assert status == 400
    assert [detail["field"] for detail in answer["details"]] == ["body"]

    status, answer = await _post_raw(service, b'{"qc": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert status in (400, 413)
    assert [detail["field"] for detail in answer["details"]] == ["body"]

    for _, body, _ in INVALID_BODIES:
        assert (await _post_json(service, body))[0] == 400
    assert await service.task_count() == rows_before
    assert await _queued(service) == queued_before
    await service.submit(BELL, shots=1)  # the count does see a message that was published
    assert await _queued(service) == queued_before + 1


async def test_integral_float_shots_are_that_integer(service: Service) -> None:
    # JSON Schema, and so the OpenAPI document, counts 3424.0 as an integer.
    status, answer = await _post_json(service, {"qc": BELL, "shots": 3424.0})

    assert status == 200, answer
    task_id = uuid.UUID(answer["task_id"])
    service.created.append(task_id)
    view = await service.wait_status(task_id, {"completed"})
    assert view["shots"] == 3424
    assert sum(view["result"].values()) == 3424


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/tasks", {"POST"}),
        ("PUT", "/health", {"GET"}),
        ("POST", "/tasks/{task_id}", {"GET"}),
    ],
)
async def test_method_not_allowed_says_what_is(
    service: Service, method: str, path: str, allowed: set[str]
) -> None:
    response = await service.api.request(method, path.format(task_id=uuid.uuid4()))

    assert response.status_code == 405
    assert {value.strip() for value in response.headers["allow"].split(",")} == allowed


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
