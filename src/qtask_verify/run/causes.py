"""Failures grouped by root cause: one broken component is one problem, however many scenarios
it breaks.

A cause is a component and what was observed of it. When the preflight saw a component down or
degraded, every failure that names that component is grouped under the preflight's observation
(it was seen, not guessed). Otherwise failures group by component and diagnosis, with the
numbers and ids that differ from one scenario to the next left out of the comparison. A
failure without a diagnosis is a suite error, grouped by its message. Causes that lost, duplicated
or left an accepted task unfinished come first, then those that affect a P1 scenario, then
those that name a component, then the largest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .record import Component, Scenario

_VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+(?:\.\d+)?", re.IGNORECASE
)
_BROKEN = ("down", "degraded")
NO_DIAGNOSIS = "failed without a diagnosis (a suite error: see the HTML report)"


@dataclass(frozen=True)
class Cause:
    component: str | None
    message: str
    scenarios: tuple[Scenario, ...]
    loss: bool = False
    seen_by_preflight: bool = False

    @property
    def said(self) -> str:
        return f"{self.component}: {self.message}" if self.component else self.message

    @property
    def p1_affected(self) -> int:
        return sum(1 for s in self.scenarios if s.priority not in ("p2", "p3"))


def _key(text: str) -> str:
    return _VOLATILE.sub("#", text)


def group_causes(
    scenarios: Sequence[Scenario], components: Sequence[Component]
) -> tuple[Cause, ...]:
    """The causes of the failed scenarios (and of any loss, even on a passing rerun)."""
    broken = {c.name: c.detail for c in components if c.status in _BROKEN and c.detail}
    groups: dict[tuple[object, ...], list[Scenario]] = {}
    heads: dict[tuple[object, ...], Cause] = {}

    def add(key: tuple[object, ...], head: Cause, scenario: Scenario) -> None:
        heads.setdefault(key, head)
        groups.setdefault(key, []).append(scenario)

    for scenario in scenarios:
        for loss in scenario.losses:
            key = ("loss", loss.component, _key(loss.message))
            add(key, Cause(loss.component, loss.message, (), loss=True), scenario)
        if scenario.outcome != "failed" or scenario.losses:
            continue
        diagnosis = scenario.diagnosis
        component = diagnosis.component if diagnosis else None
        message = diagnosis.message if diagnosis else NO_DIAGNOSIS
        if component is not None and component in broken:
            seen = Cause(component, broken[component], (), seen_by_preflight=True)
            add(("seen", component), seen, scenario)
        else:
            add(("said", component, _key(message)), Cause(component, message, ()), scenario)
    causes = [replace(heads[key], scenarios=tuple(members)) for key, members in groups.items()]
    order = {id(cause): index for index, cause in enumerate(causes)}
    causes.sort(
        key=lambda c: (
            not c.loss,
            c.p1_affected == 0,
            c.component is None,
            -len(c.scenarios),
            order[id(c)],
        )
    )
    return tuple(causes)
