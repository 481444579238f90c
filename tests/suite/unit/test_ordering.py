"""Which scenarios a profile's policy lets run: a controller alone never permits disruption."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from qtask_verify.config import ControllerSettings, Environment
from qtask_verify.plugin.ordering import NOT_RUN_BY_POLICY, skip_what_is_not_allowed
from tests.suite.unit.environments import ENVIRONMENT

STAGING = dataclasses.replace(
    ENVIRONMENT,
    name="staging",
    controller=ControllerSettings(stop="ctl stop {component}", start="ctl start {component}"),
    allow_disruption=False,
)


class Scenario:
    """What the policy reads of a collected scenario: its markers, its stash, its skip."""

    def __init__(self, *tags: str) -> None:
        self.tags = set(tags)
        self.stash = pytest.Stash()
        self.skips: list[str] = []

    def get_closest_marker(self, name: str) -> Any:
        return name if name in self.tags else None

    def add_marker(self, marker: Any) -> None:
        self.skips.append(marker.kwargs["reason"])


def _judged(env: Environment, *scenarios: Scenario) -> None:
    skip_what_is_not_allowed(env, list(scenarios))  # type: ignore[arg-type]


def test_with_a_controller_but_no_permission_nothing_disruptive_runs() -> None:
    pause = Scenario("p2", "mutating", "disruptive", "needs_controller")
    submit = Scenario("p1", "mutating", "worker")
    _judged(STAGING, pause, submit)
    assert pause.skips == [f"not run by policy: {pause.stash[NOT_RUN_BY_POLICY]}"]
    assert "does not allow stopping, pausing or restarting" in pause.skips[0]
    assert submit.skips == []


def test_with_permission_the_controller_lets_disruptive_scenarios_run() -> None:
    pause = Scenario("p3", "mutating", "disruptive", "needs_controller")
    _judged(dataclasses.replace(STAGING, allow_disruption=True), pause)
    assert pause.skips == []


def test_without_a_controller_a_permitted_scenario_is_skipped_as_a_risk() -> None:
    pause = Scenario("p3", "mutating", "disruptive", "needs_controller")
    _judged(dataclasses.replace(STAGING, allow_disruption=True, controller=None), pause)
    assert NOT_RUN_BY_POLICY not in pause.stash
    assert pause.skips and pause.skips[0].startswith("needs a deployment controller")
