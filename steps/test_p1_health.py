"""Steps of features/p1_health.feature."""

from __future__ import annotations

from pytest_bdd import scenarios

from qtask_verify.bdd import then, when
from qtask_verify.checks import queue
from qtask_verify.clients import ApiClient, ApiResponse, DatabaseInspector
from qtask_verify.config import Environment
from qtask_verify.errors import require

scenarios("p1_health.feature")


@when("I ask the API for its health", target_fixture="health")
async def _(api: ApiClient) -> ApiResponse:
    return await api.health()


@then("it answers healthy within the health time limit")
def _(health: ApiResponse, environment: Environment) -> None:
    require(
        health.status_code == 200 and health.field("status") == "healthy",
        "api",
        f"/health answered {health.status_code} {health.text[:200]}, not 200 healthy",
    )
    limit_ms = environment.thresholds.health_s * 1000
    require(
        health.elapsed_ms <= limit_ms,
        "api",
        f"/health took {health.elapsed_ms:.0f} ms, more than {limit_ms:.0f} ms",
    )


@then("it reports the database as connected")
def _(health: ApiResponse) -> None:
    status = health.field("database_status")
    require(status == "connected", "database", f"the API reports the database as {status!r}")


@then("it reports the queue as connected")
def _(health: ApiResponse) -> None:
    status = health.field("queue_status")
    require(status == "connected", "queue", f"the API reports the queue as {status!r}")


@when("I send the database a query", target_fixture="database_latency_ms")
async def _(database: DatabaseInspector) -> float:
    return await database.ping()


@then("the database answers within the health time limit")
def _(database_latency_ms: float, environment: Environment) -> None:
    limit_ms = environment.thresholds.health_s * 1000
    require(
        database_latency_ms <= limit_ms,
        "database",
        f"a trivial query took {database_latency_ms:.0f} ms, more than {limit_ms:.0f} ms",
    )


@then("the task queue exists")
def _(queue_info: queue.QueueLookup, environment: Environment) -> None:
    queue.existing(queue_info, environment)


@then("at least one worker consumes it")
def _(consumer_count: int, environment: Environment) -> None:
    name = environment.expectations.queue_name
    require(consumer_count >= 1, "workers", f"no worker is consuming {name} (0 consumers)")
