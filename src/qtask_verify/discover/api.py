"""The API as `discover` reads it: its health body, its OpenAPI document, an unknown task's 404.

Only GETs: nothing is submitted. The OpenAPI document is optional in the contract; where one is
served, it must list the contract's operations.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from typing import Any

from ..clients import ApiClient, ApiResponse
from . import contract
from .findings import Assessment, Finding, Reading


def _shown(body: Any, text: str, limit: int = 70) -> str:
    shown = json.dumps(body, separators=(", ", ": ")) if body is not None else repr(text[:40])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


async def read_api(api: ApiClient) -> Reading:
    """GET /health, /openapi.json and /tasks/<unknown id>, at the same time."""
    health, spec, missing = await asyncio.gather(
        api.health(),
        api.request("GET", "/openapi.json"),
        api.get_task(str(uuid.uuid4())),  # a random id: no task has it
    )
    return Reading((_health(health), _openapi(spec), _not_found(missing)))


def _health(response: ApiResponse) -> Finding:
    expected = f"200 healthy, database and queue connected, within {contract.HEALTH_WITHIN_S:.0f} s"
    body = response.body if isinstance(response.body, dict) else {}
    extra = sorted(set(body) - set(contract.HEALTH_BODY))
    if body:
        fields = (
            f"{body.get('status')}, database {body.get('database_status')}, "
            f"queue {body.get('queue_status')}"
        )
        found = f"{response.status_code} {fields}" + (f" (+ {len(extra)} fields)" if extra else "")
    else:
        found = f"{response.status_code} {_shown(response.body, response.text)}"
    found += f" in {response.elapsed_ms:.0f} ms"
    wrong = {k: body.get(k) for k, v in contract.HEALTH_BODY.items() if body.get(k) != v}
    if response.status_code != 200 or wrong:
        why = "not healthy now" if body.get("status") == "unhealthy" else "not the health object"
        return Finding("api", "GET /health", expected, found, Assessment.VIOLATION, why)
    if response.elapsed_ms > contract.HEALTH_WITHIN_S * 1000:
        return Finding(
            "api", "GET /health", expected, found, Assessment.VIOLATION, "answered too slowly"
        )
    if extra:
        why = f"extra fields are open: {', '.join(extra)}"
        return Finding("api", "GET /health", expected, found, Assessment.ALLOWED, why)
    return Finding("api", "GET /health", expected, found, Assessment.AS_CONTRACT)


def _operations(spec: Mapping[str, Any]) -> list[str]:
    """The contract's operations the document lists."""
    paths = spec.get("paths")
    paths = paths if isinstance(paths, dict) else {}
    listed = []
    for prefix, method in contract.OPERATIONS:
        exact = not prefix.endswith("{")
        if any(
            (path == prefix if exact else path.startswith(prefix))
            and isinstance(operations, dict)
            and method in operations
            for path, operations in paths.items()
        ):
            listed.append(f"{method.upper()} {prefix}{'' if exact else 'id}'}")
    return listed


def _openapi(response: ApiResponse) -> Finding:
    expected = "if served: POST /tasks, GET /tasks/{id}, GET /health"
    if response.status_code != 200 or not isinstance(response.body, dict):
        found = f"not served ({response.status_code})"
        return Finding("api", "OpenAPI", expected, found, Assessment.NOTE, "optional")
    listed = _operations(response.body)
    info = response.body.get("info")
    version = info.get("version") if isinstance(info, dict) else None
    found = ", ".join(listed) + (f" (version {version})" if isinstance(version, str) else "")
    if len(listed) < len(contract.OPERATIONS):
        why = "the document lists not every operation of the contract"
        return Finding("api", "OpenAPI", expected, found, Assessment.VIOLATION, why)
    return Finding("api", "OpenAPI", expected, found, Assessment.AS_CONTRACT)


def _not_found(response: ApiResponse) -> Finding:
    item = "GET /tasks/{unknown id}"
    expected = f"404 {_shown(contract.NOT_FOUND_BODY, '')}"
    found = f"{response.status_code} {_shown(response.body, response.text)}"
    if response.status_code != 404:
        why = "an unknown task must answer 404"
        return Finding("api", item, expected, found, Assessment.VIOLATION, why)
    if response.body != contract.NOT_FOUND_BODY:
        why = "the body of a 404 is open"
        return Finding("api", item, expected, found, Assessment.ALLOWED, why)
    return Finding("api", item, expected, found, Assessment.AS_CONTRACT)
