"""Steps of features/p1_live.feature: read-only checks of a deployment in service."""

from __future__ import annotations

import pytest
from pytest_bdd import parsers, scenarios

from qtask_verify.bdd import then, when
from qtask_verify.checks import live
from qtask_verify.clients import BrokerInspector, DatabaseInspector, TaskAge
from qtask_verify.config import Environment

scenarios("p1_live.feature")


@when("I look at the real tasks submitted recently", target_fixture="settled_tasks")
async def _(database: DatabaseInspector, environment: Environment) -> list[TaskAge]:
    tasks = await live.settled_real_tasks(database, environment)
    if not tasks:
        pytest.skip(live.nothing_to_observe(environment))
    return tasks


@then("every one that had the processing time limit to finish has finished")
def _(settled_tasks: list[TaskAge], environment: Environment) -> None:
    live.require_recent_tasks_finished(settled_tasks, environment)


@then("not every one of them failed")
def _(settled_tasks: list[TaskAge], environment: Environment) -> None:
    live.require_not_all_failed(settled_tasks, environment)


@when(
    parsers.parse("I look for real tasks {status} for longer than the stuck-task limit"),
    target_fixture="stuck",
)
async def _(status: str, database: DatabaseInspector, environment: Environment) -> live.Stuck:
    return await live.stuck_real_tasks(database, environment, status)


@then("there is none")
def _(stuck: live.Stuck, environment: Environment) -> None:
    live.require_none_stuck(stuck, environment)


@when(
    "I look at how the dead-letter queue grew over the recent window",
    target_fixture="dead_letter_lengths",
)
async def _(broker: BrokerInspector, environment: Environment) -> list[int]:
    samples = await live.dead_letter_samples(broker, environment)
    if reason := live.growth_not_observable(samples, environment):
        pytest.skip(reason)
    return samples


@then("no message was dead-lettered in that window")
def _(dead_letter_lengths: list[int], environment: Environment) -> None:
    live.require_no_dead_letters(dead_letter_lengths, environment)
