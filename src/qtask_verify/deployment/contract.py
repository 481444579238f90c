"""Whether a URL serves the task-queue API at all, judged from what the preflight fetched.

Any HTTP server answers something; only the task-queue API answers ``GET /health`` with the
contract's health object (``status`` healthy or unhealthy) and, where it publishes an OpenAPI
document, lists ``POST /tasks`` and ``GET /tasks/{task_id}``. A URL that points elsewhere is
said so once, instead of failing every scenario in its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEALTH_STATUSES = ("healthy", "unhealthy")


def unlike_the_api(
    status_code: int, body_kind: str, body: Any, spec: Mapping[str, Any] | None
) -> str | None:
    """What shows this is not the task-queue API, or None when nothing does."""
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        shape = "JSON without a status field" if isinstance(body, dict) else body_kind
        return f"GET /health answered {status_code} with {shape}, not the contract's health object"
    if body["status"] not in HEALTH_STATUSES:
        return (
            f'GET /health answered {status_code} with status "{body["status"]}", not '
            + " or ".join(f'"{status}"' for status in HEALTH_STATUSES)
        )
    missing = _missing_operations(spec) if spec is not None else []
    if missing:
        return f"its OpenAPI document lists no {' and no '.join(missing)}"
    return None


def _missing_operations(spec: Mapping[str, Any]) -> list[str]:
    paths = spec.get("paths")
    paths = paths if isinstance(paths, dict) else {}
    missing = []
    if "post" not in (paths.get("/tasks") or {}):
        missing.append("POST /tasks")
    if not any(
        path.startswith("/tasks/{") and isinstance(operations, dict) and "get" in operations
        for path, operations in paths.items()
    ):
        missing.append("GET /tasks/{task_id}")
    return missing


def spec_version(spec: Mapping[str, Any] | None) -> str | None:
    """The API's version as its OpenAPI document states it."""
    info = spec.get("info") if spec is not None else None
    version = info.get("version") if isinstance(info, dict) else None
    return version if isinstance(version, str) else None
