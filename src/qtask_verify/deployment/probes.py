"""Looking at a deployment that may be mid-outage: a probe that cannot reach a component counts
as "not yet", and only a deadline turns that into a diagnosis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiormq
import asyncpg

from ..clients import ApiClient, ApiResponse, BrokerInspector, DatabaseInspector
from ..errors import DeploymentFault
from ..waiting import poll_until

T = TypeVar("T")

# What a probe meets mid-outage. aio-pika's robust connection raises a bare RuntimeError
# ("Connection was not opened") while it reconnects after a broker restart.
_UNREACHABLE = (
    DeploymentFault,
    RuntimeError,
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    aiormq.exceptions.AMQPError,
)


async def quietly(probe: Callable[[], Awaitable[T]], timeout_s: float = 5.0) -> T | None:
    """The probe's value, or None while the component it asks is unreachable (mid-outage)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await probe()
    except _UNREACHABLE:
        return None


async def live_consumers(broker: BrokerInspector, queue_name: str) -> int:
    """Consumers of the queue right now; -1 while the broker or the queue cannot be seen."""
    state = await quietly(lambda: broker.live_state(queue_name))
    return -1 if state is None else state.consumers


async def live_messages(broker: BrokerInspector, queue_name: str) -> int:
    """Messages waiting in the queue right now; -1 while the broker or queue cannot be seen."""
    state = await quietly(lambda: broker.live_state(queue_name))
    return -1 if state is None else state.messages


def names_component(response: ApiResponse, component: str) -> bool:
    """Whether an unhealthy /health answer names ``component`` as failing.

    The contract only says "the failing component named": a ``<component>_status`` field that
    is not ``connected``, or the name in a list or text of the answer, both count.
    """
    status = response.field(f"{component}_status")
    if isinstance(status, str):
        return status != "connected"
    return component in response.text.lower()


def is_healthy(response: ApiResponse | None) -> bool:
    return (
        response is not None
        and response.status_code == 200
        and response.field("status") == "healthy"
    )


def describe_health(response: ApiResponse | None) -> str:
    if response is None:
        return "the API did not answer /health"
    return f"/health answered {response.status_code}: {response.text[:200]}"


async def health_when(
    api: ApiClient, done: Callable[[ApiResponse | None], bool], timeout_s: float
) -> ApiResponse | None:
    """Poll /health until ``done``; the last answer (None: the API did not answer)."""
    result = await poll_until(lambda: quietly(api.health), done, timeout_s)
    return result.value


async def wait_for_database(database: DatabaseInspector, timeout_s: float) -> None:
    """The suite's own database connection works again after an outage."""
    back = await poll_until(lambda: quietly(database.ping), lambda ms: ms is not None, timeout_s)
    if not back.satisfied:
        raise DeploymentFault(
            "database", f"the database did not answer the suite within {timeout_s:.0f} s of restart"
        )
