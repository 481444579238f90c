"""The preflight: is every component of the deployment reachable and are we let in?

It runs once before any scenario, checks all components at the same time, each within a few
seconds (one that does not answer is diagnosed by a look at its port), and says in one line per
broken component what is wrong, in the words of what was observed (``diagnoses``), with
passwords masked. The API must serve the task-queue contract (``contract``), not merely answer.
Its report also carries the component health table, the deployment's fingerprint for the
verdict and its identity for the cleanup ledger and the intervention journal.
:func:`check_configuration` refuses, before any of that, URLs no driver could use.
"""

from __future__ import annotations

import asyncio
import re
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
from ..clients.broker import BrokerInspector, QueueInfo, vhost_of
from ..config import Environment
from ..errors import ConfigurationError, DeploymentFault
from . import contract, diagnoses
from .identity import DeploymentIdentity, broker_identity, database_identity

Status = Literal["up", "down", "degraded", "unknown"]
# Management API tags that may change the broker: a read-only account has none of them.
WRITING_TAGS = frozenset({"administrator", "policymaker"})


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
    # What the deployment said it is (the key of the cleanup ledger and the journal).
    identity: DeploymentIdentity = field(default_factory=DeploymentIdentity)


class _Broken(Exception):
    """A component check failed; the message is the one-line diagnosis."""


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return str(parts.hostname), parts.port or default_port


def _user(url: str) -> str:
    return unquote(urlsplit(url).username or "")


async def _timed(
    check: Callable[[], Awaitable[Any]],
    timeout_s: float,
    what: str,
    address: tuple[str, int],
) -> tuple[Any, float]:
    """The check's value and latency; no answer in time is diagnosed by a look at the port."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            value = await check()
    except TimeoutError:
        accepted = await diagnoses.accepts_connections(*address)
        raise _Broken(diagnoses.silence(what, timeout_s, accepted)) from None
    return value, (time.perf_counter() - started) * 1000


async def _check_api(env: Environment, timeout_s: float) -> tuple[ComponentHealth, str | None]:
    """GET /health (and /openapi.json, if served): up, degraded, or not the task-queue API."""
    address = _address(env.api_url, 443 if env.api_url.startswith("https") else 80)
    async with httpx.AsyncClient(
        base_url=env.api_url, timeout=timeout_s, verify=verify_tls(env.api_url)
    ) as http:

        async def read() -> tuple[httpx.Response, dict[str, Any] | None]:
            health, spec = await asyncio.gather(http.get("/health"), _openapi(http))
            return health, spec

        try:
            (response, spec), latency = await _timed(read, timeout_s, env.api_url, address)
        except httpx.HTTPError as error:
            if diagnoses.speaks_plain_tcp(error):
                raise _Broken(diagnoses.plain_tcp(_endpoint(env.api_url))) from None
            raise _Broken(f"cannot reach {env.api_url}: {error or type(error).__name__}") from None
    body = _json(response)
    unlike = contract.unlike_the_api(response.status_code, _kind(response), body, spec)
    if unlike:
        raise _Broken(f"{env.api_url} does not serve the task-queue API: {unlike}")
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str):
        version = contract.spec_version(spec)
    if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "healthy":
        return ComponentHealth("api", "up", latency, "healthy"), version
    detail = f"/health answered {response.status_code}"
    if isinstance(body, dict):
        unhealthy = [f"{k}={v}" for k, v in body.items() if k.endswith("_status")]
        detail += f" ({', '.join(unhealthy)})" if unhealthy else ""
    return ComponentHealth("api", "degraded", latency, detail), version


async def _openapi(http: httpx.AsyncClient) -> dict[str, Any] | None:
    """The OpenAPI document, or None where none is served (the contract does not require one)."""
    try:
        response = await http.get("/openapi.json")
    except httpx.HTTPError:
        return None
    body = _json(response) if response.status_code == 200 else None
    return body if isinstance(body, dict) else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _kind(response: httpx.Response) -> str:
    """What a body is, in a few words (never its text: it may be anything)."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not response.content:
        return "an empty body"
    if content_type == "text/html":
        return "an HTML page"
    if _json(response) is None:
        return f"a non-JSON body ({content_type or 'no content type'})"
    return "JSON"


@dataclass(frozen=True)
class _DatabaseAnswer:
    revision: str | None
    identity: str
    writable: list[str]


async def _check_database(
    env: Environment, timeout_s: float
) -> tuple[ComponentHealth, _DatabaseAnswer]:
    where = f'user "{_user(env.database_url)}" at {_endpoint(env.database_url)}'

    async def query() -> _DatabaseAnswer:
        connection = await asyncpg.connect(env.database_url, timeout=timeout_s)
        try:
            identity = await database_identity(connection)
            revision: str | None = None
            if await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
                revision = await connection.fetchval(
                    "SELECT version_num FROM alembic_version LIMIT 1"
                )
            writable = await _writable_tables(connection) if env.read_only_account else []
            return _DatabaseAnswer(revision, identity, writable)
        finally:
            await connection.close()

    endpoint = _endpoint(env.database_url)
    try:
        answer, latency = await _timed(query, timeout_s, endpoint, _address(env.database_url, 5432))
    except asyncpg.InvalidPasswordError:
        raise _Broken(f"password authentication failed for {where}") from None
    except asyncpg.InvalidAuthorizationSpecificationError as error:
        raise _Broken(f"access refused for {where}: {error}") from None
    except asyncpg.InvalidCatalogNameError:
        name = urlsplit(env.database_url).path.lstrip("/")
        raise _Broken(f'database "{name}" does not exist at {endpoint}') from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        if diagnoses.refused_tls(error):
            raise _Broken(
                f"{endpoint} refused TLS: the client requires it and the port speaks plain "
                "TCP only (or is not PostgreSQL)"
            ) from None
        if diagnoses.speaks_plain_tcp(error):
            raise _Broken(diagnoses.plain_tcp(endpoint)) from None
        raise _Broken(f"cannot connect to {endpoint}: {error or type(error).__name__}") from None
    if answer.writable:
        raise _Broken(
            f"the profile declares a read-only account, but {where} may write to "
            f"{', '.join(answer.writable)}"
        )
    detail = f"alembic revision {answer.revision}" if answer.revision else "no alembic revision"
    return ComponentHealth("database", "up", latency, detail), answer


async def _writable_tables(connection: asyncpg.Connection) -> list[str]:
    """The contract's tables this account may change (a read-only account may change none)."""
    rows = await connection.fetch(
        "SELECT name FROM unnest(ARRAY['tasks', 'status_history']) AS name "
        "WHERE to_regclass(name) IS NOT NULL "
        "AND has_table_privilege(name, 'INSERT, UPDATE, DELETE, TRUNCATE')"
    )
    return [str(row["name"]) for row in rows]


@dataclass(frozen=True)
class _AmqpAnswer:
    latency_ms: float
    messages: int | None
    consumers: int | None
    identity: str | None


async def _check_amqp(env: Environment, timeout_s: float) -> _AmqpAnswer:
    """Connect over AMQP: the broker's name and the task queue's live messages and consumers."""
    queue_name = env.expectations.queue_name

    async def connect() -> tuple[int | None, int | None, str | None]:
        connection = await aio_pika.connect(env.amqp_url, timeout=timeout_s)
        try:
            identity = broker_identity(connection)
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(queue_name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                return None, None, identity
            result = queue.declaration_result
            return result.message_count, result.consumer_count, identity
        finally:
            await connection.close()

    user = _user(env.amqp_url)
    endpoint = _endpoint(env.amqp_url)
    broker = f"the broker at {endpoint}"
    default_port = 5671 if env.amqp_url.startswith("amqps") else 5672
    try:
        (messages, consumers, identity), latency = await _timed(
            connect, timeout_s, endpoint, _address(env.amqp_url, default_port)
        )
    except aiormq.exceptions.ProbableAuthenticationError:
        raise _Broken(f'AMQP authentication refused for user "{user}" by {broker}') from None
    except (OSError, aiormq.exceptions.AMQPError) as error:
        if diagnoses.vhost_refused(error):
            raise _Broken(
                f"{broker}: {diagnoses.vhost_message(vhost_of(env.amqp_url), user)}"
            ) from None
        if diagnoses.speaks_plain_tcp(error):
            raise _Broken(diagnoses.plain_tcp(endpoint)) from None
        if "ACCESS_REFUSED" in str(error) or "authentication" in str(error).lower():
            raise _Broken(f'AMQP authentication refused for user "{user}" by {broker}') from None
        raise _Broken(
            f"cannot connect to {broker} over AMQP: {error or type(error).__name__}"
        ) from None
    return _AmqpAnswer(latency, messages, consumers, identity)


async def _check_management(env: Environment, timeout_s: float) -> tuple[float, QueueInfo | None]:
    inspector = BrokerInspector(
        env.management_url,
        env.management_user,
        env.management_password,
        env.amqp_url,
        timeout=timeout_s,
    )
    default_port = 443 if env.management_url.startswith("https") else 80
    try:

        async def read() -> QueueInfo | None:
            await inspector.overview()
            if env.read_only_account:
                await _require_no_write_tags(inspector, env.management_user or "")
            return await inspector.queue(env.expectations.queue_name)

        try:
            queue, latency = await _timed(
                read,
                timeout_s,
                inspector.management_url,
                _address(env.management_url, default_port),
            )
        except DeploymentFault as fault:
            if diagnoses.speaks_plain_tcp(fault):
                raise _Broken(diagnoses.plain_tcp(_endpoint(env.management_url))) from None
            if "credentials" in fault.diagnosis:
                raise _Broken(
                    f"Management API at {inspector.management_url} refused user "
                    f'"{env.management_user or ""}"'
                ) from None
            raise _Broken(fault.diagnosis) from None
    finally:
        await inspector.aclose()
    return latency, queue


async def _require_no_write_tags(inspector: BrokerInspector, user: str) -> None:
    """A read-only account reads the Management API (monitoring) and changes nothing there."""
    tags = set(await inspector.user_tags())
    if tags & WRITING_TAGS:
        raise _Broken(
            f'the profile declares a read-only account, but Management API user "{user}" has '
            f"the {', '.join(sorted(tags & WRITING_TAGS))} tag"
        )


_SCHEMES = {
    "api_url": ("QTASK_API_URL", ("http", "https")),
    "database_url": ("QTASK_DATABASE_URL", ("postgresql", "postgres")),
    "amqp_url": ("QTASK_AMQP_URL", ("amqp", "amqps")),
    "management_url": ("QTASK_MANAGEMENT_URL", ("http", "https")),
}


def check_configuration(env: Environment) -> None:
    """Raise ConfigurationError (one line) for a URL no driver could use, or a contradiction."""
    for key, (variable, schemes) in _SCHEMES.items():
        url = str(getattr(env, key))
        problem = _malformed(url, schemes)
        if problem:
            raise ConfigurationError(
                f"{key} ({variable}) is not a URL the suite can use: {_shown(url)!r} {problem}"
            )
    if env.read_only_account and env.allow_mutating:
        raise ConfigurationError(
            f"environment {env.name!r} declares a read-only account (read_only_account) and "
            "allows mutating scenarios, which need to delete the tasks they create: set "
            "allow_mutating = false, or give the suite an account that may delete its own tasks"
        )


def _shown(url: str) -> str:
    """The URL without its user information, however malformed (it may hold a password)."""
    return re.sub(r"^((?:[^/@]*//)?)[^/]*@", r"\1***@", url)


def _malformed(url: str, schemes: tuple[str, ...]) -> str | None:
    parts = urlsplit(url)
    if "://" not in url or parts.scheme.lower() not in schemes:
        return "does not start with " + " or ".join(f"{scheme}://" for scheme in schemes)
    if not parts.hostname:
        return "names no host"
    try:
        parts.port  # noqa: B018 (urllib checks the port only when it is read)
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    return None


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

    database_identity: str | None = None
    if isinstance(database, _Broken):
        failures.append(f"database: {database}")
        components.append(ComponentHealth("database", "down", None, redact(str(database))))
    else:
        components.append(database[0])
        fingerprint["alembic_revision"] = database[1].revision
        database_identity = database[1].identity

    consumers: int | None = None
    if isinstance(management, _Broken):
        failures.append(f"queue: {management}")
    if isinstance(amqp, _Broken):
        failures.append(f"queue: {amqp}")
        components.append(ComponentHealth("queue", "down", None, redact(str(amqp))))
    else:
        latency, messages, consumers = amqp.latency_ms, amqp.messages, amqp.consumers
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
        identity=DeploymentIdentity(
            database_identity, None if isinstance(amqp, _Broken) else amqp.identity
        ),
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
