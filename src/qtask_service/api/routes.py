"""The three endpoints of the contract: submit a task, read a task, health.

With `api_extras` (the variant) every answer carries fields beyond the contract's, the 404 body
included; the reference answers only with its own documented fields.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from qtask_service import __version__
from qtask_service.api.responses import OrjsonResponse, error_response
from qtask_service.api.schemas import (
    ErrorBody,
    Health,
    SubmissionAccepted,
    TaskSubmission,
    TaskView,
)
from qtask_service.api.state import ServiceState
from qtask_service.broker.link import BrokerUnavailable
from qtask_service.circuit_size import declared_qubits
from qtask_service.db.pool import DatabaseUnavailable

router = APIRouter()

_IN_PROGRESS = "Task is still in progress."
_IMPLEMENTATION = "qtask-service variant"
_STARTED = time.monotonic()
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request; `details` names the fields."},
    503: {"model": ErrorBody, "description": "A dependency (database or queue) is unavailable."},
}


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


@router.post("/tasks", response_model=SubmissionAccepted, responses=_ERRORS)
async def submit_task(submission: TaskSubmission, request: Request) -> Response:
    """Store the task and queue it; 200 only once both are durable."""
    state = _state(request)
    qubits = declared_qubits(submission.qc)
    if qubits > state.settings.max_qubits:
        return error_response(
            400,
            "Invalid request.",
            details=[
                {
                    "field": "qc",
                    "message": f"the circuit declares {qubits} qubits; this service runs at "
                    f"most {state.settings.max_qubits}",
                    "type": "too_many_qubits",
                }
            ],
        )
    task_id = await state.submissions.submit(submission.qc, submission.shots)
    body: dict[str, Any] = {"task_id": task_id, "message": "Task submitted successfully."}
    if state.settings.api_extras:
        body |= {"status": "pending", "links": {"self": f"/tasks/{task_id}"}}
    return OrjsonResponse(body)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskView,
    responses={**_ERRORS, 404: {"model": ErrorBody, "description": "Task not found."}},
)
async def get_task(task_id: uuid.UUID, request: Request) -> Response:
    """The task's status, and its counts or error once finished.

    `attempts` counts the deliveries that claimed the task: above 1 while `processing`, the
    task is being run again after the worker that had it died.
    """
    state = _state(request)
    row = await state.store.get(task_id)
    if row is None:
        if state.settings.api_extras:
            return error_response(404, "Task not found.", task_id=task_id, code="task_not_found")
        return error_response(404, "Task not found.")
    status = row.pop("status")
    result = row.pop("result")
    error = row.pop("error_message")
    del row["task_id"]  # asyncpg's own UUID type; the requested id is the same value
    body: dict[str, Any] = {"task_id": task_id, "status": status, **row}
    if status == "completed":
        body["result"] = result
        body["message"] = "Task completed successfully."
    elif status == "failed":
        body["error"] = error
        body["message"] = "Task failed."
    else:
        body["message"] = _IN_PROGRESS
    if state.settings.api_extras:
        body["links"] = {"self": f"/tasks/{task_id}"}
    return OrjsonResponse(body)


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Response:
    """Both dependencies checked concurrently, each within its own bound: answers within 2 s."""
    state = _state(request)
    timeout_s = state.settings.health_check_timeout_s
    database, queue = await asyncio.gather(
        _probe(state.store.ping, timeout_s), _probe(state.publisher.check, timeout_s)
    )
    failing = [name for name, problem in (("database", database), ("queue", queue)) if problem]
    body: dict[str, Any] = {
        "status": "unhealthy" if failing else "healthy",
        "database_status": "disconnected" if database else "connected",
        "queue_status": "disconnected" if queue else "connected",
        "version": __version__,
        "failing": failing,
        "details": {
            name: problem for name, problem in (("database", database), ("queue", queue)) if problem
        },
    }
    if state.settings.api_extras:
        body |= {"implementation": _IMPLEMENTATION, "uptime_s": round(time.monotonic() - _STARTED)}
    return OrjsonResponse(body, 503 if failing else 200)


async def _probe(check: Callable[[], Awaitable[None]], timeout_s: float) -> str | None:
    """None when the check passed in time, else a short reason (no URL, no credentials)."""
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except Exception as exc:
        return _reason(exc)
    return None


def _reason(exc: BaseException) -> str:
    # The service's own exceptions are worded without URLs; for others the class says enough.
    if isinstance(exc, BrokerUnavailable | DatabaseUnavailable):
        return str(exc)
    return type(exc).__name__
