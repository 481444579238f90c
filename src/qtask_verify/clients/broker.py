"""The deployment's RabbitMQ, seen through the Management API and, for live counts, AMQP.

The Management API reports settings (durability, arguments, bindings) and per-queue statistics
such as ``messages_unacknowledged``; its figures are refreshed only every few seconds. Live message
and consumer counts come from a passive queue declaration over AMQP, which answers at once and
neither consumes nor changes anything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import aiormq
import httpx
from aio_pika.abc import AbstractRobustConnection

from ..errors import DeploymentFault
from ._http import verify_tls


@dataclass(frozen=True)
class QueueInfo:
    """A queue as the Management API describes it."""

    name: str
    durable: bool
    auto_delete: bool
    arguments: dict[str, Any]
    type: str
    consumers: int
    messages: int
    messages_unacknowledged: int = 0
    # The user policy and the operator policy that apply, and what they make of the queue.
    policy: str | None = None
    operator_policy: str | None = None
    effective_policy: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueState:
    """Live counts of a queue (from AMQP, not delayed by statistics)."""

    messages: int
    consumers: int


@dataclass(frozen=True)
class ExchangeInfo:
    name: str
    type: str
    durable: bool


def _closed_reason(error: BaseException) -> str:
    """A driver's reason in words: aio-pika says a closed connection by quoting its repr."""
    text = str(error)
    if text.startswith("<") and text.endswith("closed"):
        return "it was closed, and is being opened again"
    return text or type(error).__name__


def vhost_of(amqp_url: str) -> str:
    """The virtual host named by an AMQP URL (empty path -> "/")."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


class BrokerInspector:
    """Reads the broker's configuration and counts; never consumes or purges messages."""

    def __init__(
        self,
        management_url: str,
        user: str | None,
        password: str | None,
        amqp_url: str,
        timeout: float = 5.0,
    ) -> None:
        parts = urlsplit(management_url)
        base = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self.management_url = base + parts.path.rstrip("/")
        self._auth = (user or "", password or "") if user or password else None
        self._http = httpx.AsyncClient(
            base_url=self.management_url,
            timeout=timeout,
            auth=self._auth,
            verify=verify_tls(self.management_url),
        )
        self._amqp_url = amqp_url
        self._timeout = timeout
        self.vhost = vhost_of(amqp_url)
        self._connection: AbstractRobustConnection | None = None
        self._connect_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._connection is not None:
            await self._connection.close()

    async def _get(self, path: str) -> Any:
        try:
            response = await self._http.get(path)
        except httpx.HTTPError as error:
            raise DeploymentFault(
                "queue",
                f"the broker's Management API at {self.management_url} cannot be reached: "
                f"{error or type(error).__name__}",
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise DeploymentFault(
                "queue",
                f"the broker's Management API refused our credentials ({response.status_code})",
            )
        if response.status_code != 200:
            raise DeploymentFault(
                "queue", f"the broker's Management API answered {response.status_code} for {path}"
            )
        return response.json()

    def _path(self, kind: str, name: str, suffix: str = "") -> str:
        return f"/api/{kind}/{quote(self.vhost, safe='')}/{quote(name, safe='')}{suffix}"

    async def overview(self) -> dict[str, Any]:
        """/api/overview: proves the credentials work; carries the RabbitMQ version."""
        body = await self._get("/api/overview")
        return body if isinstance(body, dict) else {}

    async def user_tags(self) -> list[str]:
        """/api/whoami: the Management API tags of the suite's own user."""
        body = await self._get("/api/whoami")
        tags = body.get("tags") if isinstance(body, dict) else None
        if isinstance(tags, str):  # RabbitMQ before 3.9 sends them comma-separated
            return [tag for tag in tags.split(",") if tag]
        return [str(tag) for tag in tags] if isinstance(tags, list) else []

    async def queue(self, name: str) -> QueueInfo | None:
        body = await self._get(self._path("queues", name))
        if body is None:
            return None
        return QueueInfo(
            name=body["name"],
            durable=bool(body.get("durable")),
            auto_delete=bool(body.get("auto_delete")),
            arguments=dict(body.get("arguments") or {}),
            type=str(body.get("type", "classic")),
            consumers=int(body.get("consumers") or 0),
            messages=int(body.get("messages") or 0),
            messages_unacknowledged=int(body.get("messages_unacknowledged") or 0),
            policy=body.get("policy") or None,
            operator_policy=body.get("operator_policy") or None,
            effective_policy=dict(body.get("effective_policy_definition") or {}),
        )

    async def queue_consumers(self) -> dict[str, int]:
        """Every queue of the vhost with its consumer count: what exists, for a diagnosis that
        names more than what is missing."""
        body = await self._get(f"/api/queues/{quote(self.vhost, safe='')}?columns=name,consumers")
        return {str(q["name"]): int(q.get("consumers") or 0) for q in body or []}

    async def vhost_traces(self) -> bool | None:
        """Whether the vhost's message tracing is on (None: the vhost is not listed). Read from
        the vhost list, which a monitoring account may read (``/api/vhosts/NAME`` it may not)."""
        body = await self._get("/api/vhosts?columns=name,tracing") or []
        found = [v for v in body if isinstance(v, dict) and v.get("name") == self.vhost]
        return bool(found[0].get("tracing")) if found else None

    async def exchange(self, name: str) -> ExchangeInfo | None:
        body = await self._get(self._path("exchanges", name))
        if body is None:
            return None
        return ExchangeInfo(body["name"], body["type"], bool(body.get("durable")))

    async def bindings_from(self, exchange: str) -> list[tuple[str, str]]:
        """(destination queue, routing key) of every binding whose source is ``exchange``."""
        body = await self._get(self._path("exchanges", exchange, "/bindings/source")) or []
        return [
            (binding["destination"], binding["routing_key"])
            for binding in body
            if binding.get("destination_type") == "queue"
        ]

    async def _amqp(self) -> AbstractRobustConnection:
        async with self._connect_lock:
            if self._connection is None or self._connection.is_closed:
                try:
                    self._connection = await aio_pika.connect_robust(
                        self._amqp_url, timeout=self._timeout, reconnect_interval=1
                    )
                except (TimeoutError, OSError, aiormq.exceptions.AMQPError) as error:
                    raise DeploymentFault(
                        "queue",
                        f"cannot connect to the broker over AMQP: {error or type(error).__name__}",
                    ) from None
            return self._connection

    async def live_state(self, queue_name: str) -> QueueState | None:
        """Messages and consumers right now (passive declare); None if the queue does not exist.

        A caller cancelled midway (a wait that ended, a timeout) must not leave a channel half
        opened or half closed: the broker then closes the whole connection for every other
        caller. So the declare runs to its end on its own, and only the caller stops waiting.
        """
        return await asyncio.shield(self._declare_passively(queue_name))

    async def _declare_passively(self, queue_name: str) -> QueueState | None:
        connection = await self._amqp()
        try:
            channel = await connection.channel()
        except (RuntimeError, TimeoutError, OSError, aiormq.exceptions.AMQPError) as error:
            # A robust connection that is reconnecting after a broker restart refuses channels.
            raise DeploymentFault(
                "queue", f"the broker's AMQP connection is down: {_closed_reason(error)}"
            ) from None
        try:
            queue = await channel.declare_queue(queue_name, passive=True, timeout=self._timeout)
        except aiormq.exceptions.ChannelNotFoundEntity:
            # The broker closed the channel itself: closing it again, before the client has
            # seen that, is an error on the connection, which the broker then closes.
            return None
        except BaseException:
            if not channel.is_closed:
                await channel.close()
            raise
        await channel.close()
        declared = queue.declaration_result
        return QueueState(
            messages=declared.message_count or 0, consumers=declared.consumer_count or 0
        )

    async def queue_series(self, name: str, window_s: float) -> QueueSeries | None:
        """The queue's figures, and its length sampled once a second over the last
        ``window_s`` seconds; None if the queue does not exist."""
        age = max(int(window_s) + 1, 2)
        query = (
            "?columns=consumers,messages_ready,messages_unacknowledged,messages_details"
            f"&lengths_age={age}&lengths_incr=1"
        )
        body = await self._get(self._path("queues", name, query))
        if body is None:
            return None
        return QueueSeries(
            ready=int(body.get("messages_ready") or 0),
            unacknowledged=int(body.get("messages_unacknowledged") or 0),
            consumers=int(body.get("consumers") or 0),
            lengths=_samples(body.get("messages_details")),
        )

    async def unacknowledged(self, name: str) -> int | None:
        """The queue's messages delivered and not yet acknowledged, as the Management API last
        refreshed them; None if the queue does not exist or the API counts none (statistics
        off)."""
        body = await self._get(self._path("queues", name, "?columns=messages_unacknowledged"))
        value = body.get("messages_unacknowledged") if isinstance(body, dict) else None
        return value if isinstance(value, int) else None

    async def node_uptimes(self) -> dict[str, int]:
        """Each node's uptime (ms) as the Management API last refreshed it: it advances with
        every refresh, so watching it shows how often the API's figures are renewed."""
        body = await self._get("/api/nodes?columns=name,uptime") or []
        return {
            str(node["name"]): node["uptime"]
            for node in body
            if isinstance(node, dict) and isinstance(node.get("uptime"), int)
        }

    async def queue_counters(self, name: str) -> dict[str, int] | None:
        """The queue's cumulative counts of messages published into it ("publish") and
        acknowledged from it ("ack") as the Management API last refreshed them, each absent
        while none was counted; None if the queue does not exist."""
        query = "?columns=message_stats.publish,message_stats.ack"
        body = await self._get(self._path("queues", name, query))
        if body is None:
            return None
        counted = body.get("message_stats") or {}
        return {key: value for key, value in counted.items() if isinstance(value, int)}


def _samples(details: Any) -> list[tuple[float, int]]:
    """(broker time in seconds, value) of a Management API ``*_details`` block, oldest first."""
    samples = details.get("samples") or [] if isinstance(details, dict) else []
    return sorted((float(s["timestamp"]) / 1000, int(s.get("sample") or 0)) for s in samples)


@dataclass(frozen=True)
class QueueSeries:
    """A queue's figures as the Management API last refreshed them, and its sampled length.

    The figures lag the queue (see ``checks.evidence``). A sample's timestamp is not when the
    queue reported its length: the Management API files the last report again every second, and
    files a late report back over the seconds before it, so a sample shows the length at some
    time near its timestamp, earlier or later.
    """

    ready: int
    unacknowledged: int
    consumers: int
    lengths: list[tuple[float, int]] = field(default_factory=list)  # oldest first

    def length_at(self, moment: float) -> int | None:
        """The latest length sample filed at or before ``moment`` (broker time, s)."""
        before = [value for at, value in self.lengths if at <= moment]
        return before[-1] if before else None
