"""Read-only checks of a deployment in service: what they judge, and when they cannot judge."""

from __future__ import annotations

import dataclasses

import pytest

from qtask_verify.checks import live
from qtask_verify.config import Thresholds
from qtask_verify.errors import DeploymentFault
from tests.suite.unit.environments import ENVIRONMENT as BASE

ENVIRONMENT = dataclasses.replace(
    BASE,
    name="production",
    allow_mutating=False,
    thresholds=Thresholds(dead_letter_window_s=60.0),
)


@pytest.mark.parametrize("samples", [[], [4]])
def test_growth_without_two_samples_is_not_observable(samples: list[int]) -> None:
    reason = live.growth_not_observable(samples, ENVIRONMENT)
    assert reason is not None
    assert reason.startswith("not observable: the broker gave")
    assert "quantum_tasks.dlq" in reason


def test_growth_between_samples_is_judged() -> None:
    samples = [3, 3, 5, 4]
    assert live.growth_not_observable(samples, ENVIRONMENT) is None
    with pytest.raises(DeploymentFault, match="2 message"):
        live.require_no_dead_letters(samples, ENVIRONMENT)
    live.require_no_dead_letters([5, 5, 2], ENVIRONMENT)  # drained, nothing added
