"""The task service's HTTP API, as a client sees it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import DeploymentFault
from ._http import verify_tls


@dataclass(frozen=True)
class ApiResponse:
    """An answer of the API: status, parsed JSON body (None if not JSON) and latency."""

    status_code: int
    body: Any
    text: str
    elapsed_ms: float

    def field(self, name: str) -> Any:
        """Return ``body[name]`` if the body is a JSON object, else None."""
        return self.body.get(name) if isinstance(self.body, dict) else None


@dataclass(frozen=True)
class Submission:
    """A task the API accepted."""

    task_id: str
    response: ApiResponse


class ApiClient:
    """Speaks the contract's HTTP API with short timeouts; unreachable -> DeploymentFault(api)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, verify=verify_tls(self.base_url)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, json_body: Any = None, content: bytes | None = None
    ) -> ApiResponse:
        """Send one request; an unreachable API is a DeploymentFault naming the API."""
        headers = {"content-type": "application/json"} if content is not None else None
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method, path, json=json_body, content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise DeploymentFault(
                "api", f"the API at {self.base_url} did not answer {method} {path} in time"
            ) from None
        except httpx.TransportError as error:
            raise DeploymentFault(
                "api",
                f"the API at {self.base_url} cannot be reached: {error or type(error).__name__}",
            ) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        return ApiResponse(response.status_code, body, response.text, elapsed_ms)

    async def health(self) -> ApiResponse:
        return await self.request("GET", "/health")

    async def post_task(self, body: Any) -> ApiResponse:
        """POST /tasks with ``body`` as JSON (any value, also invalid ones)."""
        return await self.request("POST", "/tasks", json_body=body)

    async def post_raw_task(self, content: bytes) -> ApiResponse:
        """POST /tasks with raw bytes declared as JSON (for malformed-body checks)."""
        return await self.request("POST", "/tasks", content=content)

    async def submit(self, circuit: str, shots: int) -> Submission:
        """Submit a valid task; anything but a task id in a 200 is a DeploymentFault(api)."""
        response = await self.post_task({"qc": circuit, "shots": shots})
        task_id = response.field("task_id")
        if response.status_code != 200 or not isinstance(task_id, str):
            raise DeploymentFault(
                "api",
                f"submitting a valid task answered {response.status_code}, not 200 with a task id: "
                f"{response.text[:200]}",
            )
        return Submission(task_id, response)

    async def get_task(self, task_id: str) -> ApiResponse:
        return await self.request("GET", f"/tasks/{task_id}")

    async def version(self) -> str | None:
        """The API's version, from /health or else /openapi.json, if it says."""
        health = await self.health()
        if isinstance(health.field("version"), str):
            return str(health.field("version"))
        spec = await self.request("GET", "/openapi.json")
        info = spec.field("info")
        if spec.status_code == 200 and isinstance(info, dict) and info.get("version"):
            return str(info["version"])
        return None
