"""Steps of features/p2_schema.feature."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then
from qtask_verify.checks import schema
from qtask_verify.clients import DatabaseInspector
from qtask_verify.config import Environment

scenarios("p2_schema.feature")


@then("the database is at the expected migration revision")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    await schema.require_revision(database, environment.expectations.alembic_head)


@then(parsers.parse('the table "{table}" has these columns:'))
async def _(
    table: str, datatable: list[list[str]], database: DatabaseInspector, environment: Environment
) -> None:
    await schema.require_columns(database, table, datatable, environment.expectations)


@then(parsers.parse('the table "{table}" is identified by "{column}"'))
async def _(table: str, column: str, database: DatabaseInspector) -> None:
    await schema.require_primary_key(database, table, column)


@then("the task status type has exactly the expected statuses")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    await schema.require_statuses(database, environment.expectations)


@then("every expected index exists on its table and columns")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    await schema.require_indexes(database, environment.expectations)


@then("status history entries are tied to their task by the expected foreign key")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    await schema.require_history_foreign_key(database, environment.expectations.history_foreign_key)


@then("a task's status history is deleted together with the task")
async def _(database: DatabaseInspector, environment: Environment) -> None:
    await schema.require_history_cascade(database, environment.expectations.history_foreign_key)
