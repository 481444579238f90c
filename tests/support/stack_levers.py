"""What the project's tests do to a private stack as its administrator: SQL as the database's
owner, calls to the broker's Management API, the environment of a `qtask-verify` run."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import quote, urlsplit

import asyncpg
import httpx

from qtask_stack import Stack


class StackLevers:
    """A stack, the suite's variables for it, and its administrators' (never the suite's)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.suite_env = stack.suite_env()
        self.admin_env = stack.admin_env()

    def environ(self, **overrides: str) -> dict[str, str]:
        """A process environment with this stack's `QTASK_*` variables, none of ours."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
        environ.update(self.suite_env)
        environ["QTASK_STACK_DIR"] = str(self.stack.state_dir)
        environ.update(overrides)
        return environ

    @property
    def vhost(self) -> str:
        return urlsplit(self.suite_env["QTASK_AMQP_URL"]).path[1:] or "/"

    def queue_path(self, name: str) -> str:
        return f"/api/queues/{quote(self.vhost, safe='')}/{quote(name, safe='')}"

    def sql(self, *statements: str) -> None:
        """Statements on the stack's database as its owner, in one transaction."""

        async def execute(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                for statement in statements:
                    await connection.execute(statement)

        self._on_database(execute)

    def sql_with(self, statement: str, *args: object) -> None:
        """One statement with parameters, as the database's owner."""

        async def execute(connection: asyncpg.Connection) -> None:
            await connection.execute(statement, *args)

        self._on_database(execute)

    def sql_value(self, query: str) -> Any:
        async def fetch(connection: asyncpg.Connection) -> Any:
            return await connection.fetchval(query)

        return self._on_database(fetch)

    def _on_database(self, work: Any) -> Any:
        async def run() -> Any:
            connection = await asyncpg.connect(self.admin_env["QTASK_DATABASE_URL"], timeout=10)
            try:
                return await work(connection)
            finally:
                await connection.close()

        return asyncio.run(run())

    def management(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The broker's Management API as the stack's administrator (not the suite's account)."""
        auth = (
            self.admin_env["QTASK_MANAGEMENT_USER"],
            self.admin_env["QTASK_MANAGEMENT_PASSWORD"],
        )
        with httpx.Client(base_url=self.suite_env["QTASK_MANAGEMENT_URL"], auth=auth) as http:
            return http.request(method, path, timeout=10, **kwargs)

    def health_problems(self) -> list[str]:
        """What /health says is wrong (empty: it answered 200)."""
        try:
            health = httpx.get(f"{self.suite_env['QTASK_API_URL']}/health", timeout=5)
        except httpx.HTTPError as error:
            return [f"/health: {type(error).__name__}"]
        return [] if health.status_code == 200 else [f"/health answered {health.status_code}"]
