"""Which deployment this is, whatever the spelling of its URLs.

The cleanup ledger and the intervention journal outlive a run, so a later run must find them
under any URL of the same deployment: another host name or address, another user. They are
keyed by what the deployment says about itself: the database cluster's system identifier with
the database's name, and the broker's cluster name. Either is unknown while its part is down (a
dead run may have left it stopped); two identities match when every part both know agrees.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractConnection

_SYSTEM_IDENTIFIER = (
    "SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()"
)
# Where pg_control_system() is not granted: the server's own address, not the URL's spelling.
_SERVER_ADDRESS = (
    "SELECT coalesce(host(inet_server_addr()), 'local') || ':' || "
    "coalesce(inet_server_port()::text, '') || '/' || current_database()"
)


@dataclass(frozen=True)
class DeploymentIdentity:
    """What the deployment says it is; None for a part that did not answer."""

    database: str | None = None
    broker: str | None = None

    @property
    def known(self) -> bool:
        return self.database is not None or self.broker is not None

    def matches(self, other: DeploymentIdentity) -> bool:
        """Same deployment: at least one part known to both, and no part known to both differs."""
        compared = [
            (mine, theirs)
            for mine, theirs in ((self.database, other.database), (self.broker, other.broker))
            if mine is not None and theirs is not None
        ]
        return bool(compared) and all(mine == theirs for mine, theirs in compared)

    def database_key(self) -> str:
        """A short file-name-safe key of the database (the cleanup ledger's name)."""
        if self.database is None:
            raise ValueError("the database's identity is not known")
        return hashlib.sha256(self.database.encode()).hexdigest()[:12]

    def as_json(self) -> dict[str, str | None]:
        return {"database": self.database, "broker": self.broker}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> DeploymentIdentity:
        value = value or {}
        database, broker = value.get("database"), value.get("broker")
        return cls(
            database if isinstance(database, str) else None,
            broker if isinstance(broker, str) else None,
        )


async def database_identity(connection: asyncpg.Connection) -> str:
    """The cluster's system identifier and the database's name, as the server reports them."""
    try:
        value = await connection.fetchval(_SYSTEM_IDENTIFIER)
    except asyncpg.InsufficientPrivilegeError:
        value = await connection.fetchval(_SERVER_ADDRESS)
    return str(value)


def broker_identity(connection: AbstractConnection) -> str | None:
    """The broker's cluster name, from the properties it sent when the connection opened."""
    transport = connection.transport
    if transport is None:
        return None
    properties = transport.connection.server_properties or {}
    name = properties.get("cluster_name")
    return name.decode() if isinstance(name, bytes) else (str(name) if name else None)


async def identify(database_url: str, amqp_url: str, timeout_s: float) -> DeploymentIdentity:
    """Ask both parts at once, each within ``timeout_s``; a part that does not answer is None."""

    async def database() -> str:
        connection = await asyncpg.connect(database_url, timeout=timeout_s)
        try:
            return await database_identity(connection)
        finally:
            await connection.close()

    async def broker() -> str | None:
        connection = await aio_pika.connect(amqp_url, timeout=timeout_s)
        try:
            return broker_identity(connection)
        finally:
            await connection.close()

    async def bounded(ask: Any) -> str | None:
        try:
            async with asyncio.timeout(timeout_s):
                answer: str | None = await ask()
                return answer
        except Exception:  # unreachable, refused, misconfigured: this part stays unknown
            return None

    database_part, broker_part = await asyncio.gather(bounded(database), bounded(broker))
    return DeploymentIdentity(database_part, broker_part)
