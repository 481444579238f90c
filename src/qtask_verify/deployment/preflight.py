"""The preflight: is every component of the deployment reachable and are we let in?

It runs once before any scenario, checks all components at the same time, each within a few
seconds, and says in one line per broken component what is wrong (with passwords masked). Its
report also carries the component health table and the deployment's fingerprint for the verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq
import asyncpg
import httpx

from ..clients._http import verify_tls
from ..clients.broker import BrokerInspector, QueueInfo
from ..config import Environment
from ..errors import DeploymentFault

Status = Literal["up", "down", "degraded", "unknown"]


@dataclass(frozen=True)
class ComponentHealth:
    name: str  # api | database | queue | workers
    status: Status
    latency_ms: float | None
    detail: str


@dataclass
class PreflightReport:
    ok: bool
    duration_s: float
    failures: list[str] = field(default_factory=list)
    components: list[ComponentHealth] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    # Live consumers of the task queue as AMQP reported them (None: not counted).
    consumers: int | None = None


class _Broken(Exception):
    """A component check failed; the message is the one-line diagnosis."""


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _user(url: str) -> str:
    return unquote(urlsplit(url).username or "")


async def _timed(
    check: Callable[[], Awaitable[Any]], timeout_s: float, what: str
) -> tuple[Any, float]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            value = await check()
    except TimeoutError:
        raise _Broken(f"no answer from {what} within {timeout_s:.1f} s") from None
    return value, (time.perf_counter() - started) * 1000


async def _check_api(env: Environment, timeout_s: float) -> tuple[ComponentHealth, str | None]:
    async with httpx.AsyncClient(
        base_url=env.api_url, timeout=timeout_s, verify=verify_tls(env.api_url)
    ) as http:

        async def health() -> httpx.Response:
            return await http.get("/health")

        try:
            response, latency = await _timed(health, timeout_s, env.api_url)
        except httpx.HTTPError as error:
            raise _Broken(f"cannot reach {env.api_url}: {error or type(error).__name__}") from None
        version = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("version"), str):
            version = body["version"]
        else:
            try:
                spec = (await http.get("/openapi.json")).json()
                version = spec.get("info", {}).get("version") if isinstance(spec, dict) else None
            except (httpx.HTTPError, ValueError):
                version = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "healthy":
        return ComponentHealth("api", "up", latency, "healthy"), version
    detail = f"/health answered {response.status_code}"
    if isinstance(body, dict):
        unhealthy = [f"{k}={v}" for k, v in body.items() if k.endswith("_status")]
        detail += f" ({', '.join(unhealthy)})" if unhealthy else ""
    return ComponentHealth("api", "degraded", latency, detail), version


async def _check_database(env: Environment, timeout_s: float) -> tuple[ComponentHealth, str | None]:
    where = f'user "{_user(env.database_url)}" at {_endpoint(env.database_url)}'

    async def query() -> str | None:
        connection = await asyncpg.connect(env.database_url, timeout=timeout_s)
        try:
            await connection.fetchval("SELECT 1")
            if not await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
                return None
            revision: str | None = await connection.fetchval(
                "SELECT version_num FROM alembic_version LIMIT 1"
            )
            return revision
        finally:
            await connection.close()

    try:
        revision, latency = await _timed(query, timeout_s, _endpoint(env.database_url))
    except asyncpg.InvalidPasswordError:
        raise _Broken(f"password authentication failed for {where}") from None
    except asyncpg.InvalidAuthorizationSpecificationError as error:
        raise _Broken(f"access refused for {where}: {error}") from None
    except asyncpg.InvalidCatalogNameError:
        name = urlsplit(env.database_url).path.lstrip("/")
        raise _Broken(
            f'database "{name}" does not exist at {_endpoint(env.database_url)}'
        ) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise _Broken(
            f"cannot connect to {_endpoint(env.database_url)}: {error or type(error).__name__}"
        ) from None
    detail = f"alembic revision {revision}" if revision else "no alembic revision"
    return ComponentHealth("database", "up", latency, detail), revision


async def _check_amqp(env: Environment, timeout_s: float) -> tuple[float, int | None, int | None]:
    """Connect over AMQP; returns latency and the task queue's live (messages, consumers)."""
    queue_name = env.expectations.queue_name

    async def connect() -> tuple[int | None, int | None]:
        connection = await aio_pika.connect(env.amqp_url, timeout=timeout_s)
        try:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(queue_name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                return None, None
            result = queue.declaration_result
            return result.message_count, result.consumer_count
        finally:
            await connection.close()

    user = f'user "{_user(env.amqp_url)}"'
    broker = f"the broker at {_endpoint(env.amqp_url)}"
    try:
        (messages, consumers), latency = await _timed(connect, timeout_s, _endpoint(env.amqp_url))
    except aiormq.exceptions.ProbableAuthenticationError:
        raise _Broken(f"AMQP authentication refused for {user} by {broker}") from None
    except (OSError, aiormq.exceptions.AMQPError) as error:
        if "ACCESS_REFUSED" in str(error) or "authentication" in str(error).lower():
            raise _Broken(f"AMQP authentication refused for {user} by {broker}") from None
        raise _Broken(
            f"cannot connect to {broker} over AMQP: {error or type(error).__name__}"
        ) from None
    return latency, messages, consumers


async def _check_management(env: Environment, timeout_s: float) -> tuple[float, QueueInfo | None]:
    inspector = BrokerInspector(
        env.management_url,
        env.management_user,
        env.management_password,
        env.amqp_url,
        timeout=timeout_s,
    )
    try:

        async def read() -> QueueInfo | None:
            await inspector.overview()
            return await inspector.queue(env.expectations.queue_name)

        try:
            queue, latency = await _timed(read, timeout_s, inspector.management_url)
        except DeploymentFault as fault:
            if "credentials" in fault.diagnosis:
                raise _Broken(
                    f"Management API at {inspector.management_url} refused user "
                    f'"{env.management_user or ""}"'
                ) from None
            raise _Broken(fault.diagnosis) from None
    finally:
        await inspector.aclose()
    return latency, queue


async def _outcome(check: Awaitable[Any]) -> Any:
    """Run one check; a failure becomes its diagnosis string."""
    try:
        return await check
    except _Broken as broken:
        return broken


async def run_preflight(env: Environment, timeout: float = 3.0) -> PreflightReport:  # noqa: ASYNC109
    """Check the API, database, AMQP and Management API concurrently, each within ``timeout``.

    Never raises for a broken deployment: the report's ``failures`` say what is broken.
    """
    started = time.perf_counter()
    redact = env.redactor()
    api, database, amqp, management = await asyncio.gather(
        _outcome(_check_api(env, timeout)),
        _outcome(_check_database(env, timeout)),
        _outcome(_check_amqp(env, timeout)),
        _outcome(_check_management(env, timeout)),
    )
    failures: list[str] = []
    components: list[ComponentHealth] = []
    fingerprint: dict[str, Any] = {"alembic_revision": None, "queue": None, "api_version": None}
    queue_name = env.expectations.queue_name

    if isinstance(api, _Broken):
        failures.append(f"api: {api}")
        components.append(ComponentHealth("api", "down", None, redact(str(api))))
    else:
        components.append(api[0])
        fingerprint["api_version"] = api[1]

    if isinstance(database, _Broken):
        failures.append(f"database: {database}")
        components.append(ComponentHealth("database", "down", None, redact(str(database))))
    else:
        components.append(database[0])
        fingerprint["alembic_revision"] = database[1]

    consumers: int | None = None
    if isinstance(management, _Broken):
        failures.append(f"queue: {management}")
    if isinstance(amqp, _Broken):
        failures.append(f"queue: {amqp}")
        components.append(ComponentHealth("queue", "down", None, redact(str(amqp))))
    else:
        latency, messages, consumers = amqp
        if isinstance(management, _Broken):
            components.append(
                ComponentHealth("queue", "degraded", latency, redact(str(management)))
            )
        elif consumers is None:
            components.append(
                ComponentHealth("queue", "degraded", latency, f"queue {queue_name} does not exist")
            )
        else:
            components.append(
                ComponentHealth("queue", "up", latency, f"{queue_name}: {messages} waiting")
            )
    if not isinstance(management, _Broken):
        info = management[1]
        if info is not None:
            fingerprint["queue"] = {
                "name": info.name,
                "durable": info.durable,
                "auto_delete": info.auto_delete,
                "type": info.type,
                "dead_letter_exchange": info.arguments.get("x-dead-letter-exchange"),
                "consumers": consumers if consumers is not None else info.consumers,
            }

    components.append(_workers_health(consumers, queue_name, env.expectations.min_consumers))
    return PreflightReport(
        ok=not failures,
        duration_s=round(time.perf_counter() - started, 3),
        failures=[redact(line) for line in failures],
        components=components,
        fingerprint=fingerprint,
        consumers=consumers,
    )


def _workers_health(consumers: int | None, queue_name: str, expected: int) -> ComponentHealth:
    if consumers is None:
        return ComponentHealth(
            "workers", "unknown", None, f"cannot count consumers of {queue_name}"
        )
    if consumers == 0:
        return ComponentHealth(
            "workers", "down", None, f"no worker is consuming {queue_name} (0 consumers)"
        )
    if consumers < expected:
        return ComponentHealth(
            "workers", "degraded", None, f"{consumers} of {expected} expected consumers"
        )
    return ComponentHealth("workers", "up", None, f"{consumers} consuming {queue_name}")
