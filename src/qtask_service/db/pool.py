"""The asyncpg connection pool, and the one exception the rest of the service sees for outages.

The pool connects lazily (no connection at start-up), so a process starts while PostgreSQL is
down and recovers by itself when it is back: broken connections are discarded by the pool and
replaced on the next acquire.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached or did not answer in time (an outage, not a bug)."""


# Errors that mean "the database is not there right now", as opposed to a wrong query.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutdown in progress, cannot connect now
    asyncpg.InterfaceError,  # the connection was lost under a query
)


async def _init_connection(connection: asyncpg.Connection) -> None:
    # JSONB travels as Python objects, encoded by orjson (faster than the json module).
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        format="text",
    )


async def create_pool(
    dsn: str, *, max_size: int, connect_timeout_s: float, command_timeout_s: float
) -> asyncpg.Pool:
    """A lazily connecting pool with bounded connect and command times."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=max_size,
        timeout=connect_timeout_s,
        command_timeout=command_timeout_s,
        init=_init_connection,
        # The queries are few and fixed; the statement cache makes them single round trips.
        statement_cache_size=64,
    )
    return pool


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool, timeout_s: float) -> AsyncIterator[Any]:
    """Acquire a connection, translating any outage into `DatabaseUnavailable`."""
    try:
        async with asyncio.timeout(timeout_s), pool.acquire() as conn:
            yield conn
    except OUTAGE_ERRORS as exc:
        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
