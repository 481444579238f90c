"""`discover`: read a deployment's API, database and broker at the same time, within a bound.

Read-only: GETs on the API and the Management API, SELECTs on the catalog. Each component has
its own deadline, so one that does not answer is named in one line while the others are read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import httpx

from ..clients import ApiClient, BrokerInspector, DatabaseInspector
from ..clients.broker import vhost_of
from ..config import Environment
from ..errors import DeploymentFault
from ..redaction import mask_url
from .api import read_api
from .broker import list_queues, read_broker
from .database import read_database
from .findings import Discovery, Draft, Finding, Part, Reading, Unreachable

T = TypeVar("T")

# The whole command answers within 5 s: each component gets this long, at the same time, and
# every network call in it a little less, so that a silent one is named, not waited out.
COMPONENT_BUDGET_S = 3.0
CALL_TIMEOUT_S = 2.5


async def discover(
    environment: Environment,
    *,
    queue_name: str | None = None,
    budget_s: float = COMPONENT_BUDGET_S,
) -> Discovery:
    """Read the deployment ``environment`` points at; ``queue_name`` is the queue the profile
    names (tried first; None: find it). Never raises for a component it cannot read."""
    started = time.perf_counter()
    call_s = min(CALL_TIMEOUT_S, budget_s)
    redact = environment.redactor()
    readings = await asyncio.gather(
        _bounded("api", budget_s, lambda: _api(environment, call_s)),
        _bounded("database", budget_s, lambda: _database(environment, call_s)),
        _bounded("queue", budget_s, lambda: _broker(environment, call_s, queue_name)),
    )
    findings: list[Finding] = []
    draft = Draft()
    unreachable: list[Unreachable] = []
    for reading in readings:
        if isinstance(reading, Unreachable):
            unreachable.append(Unreachable(reading.component, redact(reading.diagnosis)))
            continue
        findings += [_redacted(f, redact) for f in reading.findings]
        draft = draft.merged(reading.draft)
    urls = environment.masked_urls()
    target = ", ".join(
        urls[key] for key in ("api_url", "database_url", "amqp_url", "management_url")
    )
    return Discovery(
        environment=f"profile {environment.name}",
        api_url=redact(mask_url(environment.api_url)),
        target=redact(target),
        vhost=vhost_of(environment.amqp_url),
        findings=tuple(findings),
        draft=draft,
        unreachable=tuple(unreachable),
        duration_s=time.perf_counter() - started,
    )


def _redacted(finding: Finding, redact: Callable[[str], str]) -> Finding:
    return Finding(
        finding.component,
        finding.item,
        redact(finding.contract),
        redact(finding.found),
        finding.assessment,
        redact(finding.why),
    )


# What reading a component may meet besides a DeploymentFault: a driver's or a transport's error.
_UNREADABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, httpx.HTTPError)


async def _bounded(
    component: Part, budget_s: float, read: Callable[[], Awaitable[Reading]]
) -> Reading | Unreachable:
    try:
        async with asyncio.timeout(budget_s):
            return await read()
    except TimeoutError:
        return Unreachable(component, f"no answer within {budget_s:.1f} s")
    except DeploymentFault as fault:
        return Unreachable(component, fault.diagnosis)
    except _UNREADABLE as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return Unreachable(component, f"cannot be read: {text}")


async def _api(environment: Environment, timeout_s: float) -> Reading:
    api = ApiClient(environment.api_url, timeout=timeout_s)
    try:
        return await read_api(api)
    finally:
        await api.aclose()


async def _database(environment: Environment, timeout_s: float) -> Reading:
    try:
        database = await DatabaseInspector.connect(environment.database_url, timeout_s)
    except asyncpg.InvalidPasswordError:
        raise DeploymentFault("database", "the database refused our password") from None
    except TimeoutError:
        raise DeploymentFault(
            "database", f"the database did not accept a connection within {timeout_s:.1f} s"
        ) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DeploymentFault(
            "database", f"cannot connect to the database: {str(error) or type(error).__name__}"
        ) from None
    try:
        return await read_database(database, environment.expectations.task_statuses)
    finally:
        await database.close()


async def _broker(environment: Environment, timeout_s: float, queue_name: str | None) -> Reading:
    broker = BrokerInspector(
        environment.management_url,
        environment.management_user,
        environment.management_password,
        environment.amqp_url,
        timeout=timeout_s,
    )
    auth = (
        (environment.management_user or "", environment.management_password or "")
        if environment.management_user or environment.management_password
        else None
    )
    try:
        queues = await list_queues(environment.management_url, auth, broker.vhost, timeout_s)
        return await read_broker(broker, queues, queue_name)
    finally:
        await broker.aclose()
