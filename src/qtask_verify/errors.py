"""The suite's exceptions.

Every error the engine raises derives from :class:`QtaskVerifyError`, so callers can tell the
suite's own failures from bugs. :class:`DeploymentFault` is the one that matters for the verdict:
it says which component of the deployment is broken and why, in the deployment's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Component = Literal["api", "database", "queue", "workers"]


class QtaskVerifyError(Exception):
    """Base class of every error raised by the suite's engine."""


class ConfigurationError(QtaskVerifyError):
    """The environment configuration cannot be used (missing file, unknown profile, bad value)."""


class ControllerError(QtaskVerifyError):
    """A deployment controller command failed or is not configured for an action."""


@dataclass(frozen=True)
class Observation:
    """One thing seen while waiting, ``t_s`` seconds after the wait began."""

    t_s: float
    observation: str


class DeploymentFault(QtaskVerifyError, AssertionError):
    """The deployment does not behave as the contract says.

    It is an ``AssertionError`` so pytest reports the scenario as failed (not errored).
    ``component`` names the broken part (api | database | queue | workers), ``diagnosis`` says
    what was observed in one line, and ``timeline`` lists what the suite observed on the way
    there. ``detail`` keeps the raw text behind it (a driver's error, an HTTP body), which is
    never the headline. ``loss`` marks a fault that shows an accepted task lost, duplicated or
    left unfinished: whatever the scenario's priority, the deployment must not be released.
    """

    def __init__(
        self,
        component: Component,
        diagnosis: str,
        timeline: Sequence[Observation] = (),
        *,
        detail: str | None = None,
        loss: bool = False,
    ) -> None:
        super().__init__(f"{component}: {diagnosis}")
        self.component: Component = component
        self.diagnosis = diagnosis
        self.timeline: list[Observation] = list(timeline)
        self.detail = detail
        self.loss = loss


def require(condition: bool, component: Component, diagnosis: str) -> None:
    """Raise DeploymentFault(component, diagnosis) unless ``condition`` holds.

    Steps use it instead of a bare ``assert`` so a failure names the broken component.
    """
    __tracebackhide__ = True
    if not condition:
        raise DeploymentFault(component, diagnosis)
