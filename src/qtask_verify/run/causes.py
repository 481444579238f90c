"""Failures grouped by root cause: one broken component is one problem, however many scenarios
it breaks.

A cause is a component and what was observed of it. When the preflight saw a component down or
degraded, every failure that names that component is grouped under the preflight's observation
(it was seen, not guessed). Otherwise failures group by component and diagnosis, with the
numbers and ids that differ from one scenario to the next left out of the comparison; a
scenario that failed several checks counts, once, under the cause of each (a later failure of
the same component only joins a cause, see ``group_causes``). A failure without a diagnosis is
a suite error, grouped by its message. Causes that lost, duplicated or left an accepted task
unfinished come first, then those that affect a P1 scenario, then those that name a component,
then the largest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .record import Component, Diagnosis, Scenario

_VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+(?:\.\d+)?", re.IGNORECASE
)
_BROKEN = ("down", "degraded")
NO_DIAGNOSIS = "failed without a diagnosis (a suite error: see the HTML report)"
_Key = tuple[object, ...]


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

    def diagnosis_of(self, scenario: Scenario) -> Diagnosis | None:
        """The failure of ``scenario`` that this cause stands for."""
        candidates = scenario.losses if self.loss else scenario.failures
        return next((d for d in candidates if self._covers(d)), None)

    def _covers(self, diagnosis: Diagnosis) -> bool:
        if self.seen_by_preflight:
            return diagnosis.component == self.component
        return (diagnosis.component, _key(diagnosis.message)) == (
            self.component,
            _key(self.message),
        )


def _key(text: str) -> str:
    return _VOLATILE.sub("#", text)


def _cause(diagnosis: Diagnosis | None, broken: dict[str, str]) -> tuple[_Key, Cause]:
    """The grouping key of a failure and the cause it stands for."""
    component = diagnosis.component if diagnosis else None
    message = diagnosis.message if diagnosis else NO_DIAGNOSIS
    if component is not None and component in broken:
        return ("seen", component), Cause(component, broken[component], (), seen_by_preflight=True)
    return ("said", component, _key(message)), Cause(component, message, ())


def group_causes(
    scenarios: Sequence[Scenario], components: Sequence[Component]
) -> tuple[Cause, ...]:
    """The causes of the failed scenarios (and of any loss, even on a passing rerun).

    A scenario's later failure naming a component that an earlier one of the same scenario
    named (a failed task, then no result to check) is most likely its consequence: it joins a
    cause that another failure established, never making one of its own.
    """
    broken = {c.name: c.detail for c in components if c.status in _BROKEN and c.detail}
    groups: dict[_Key, list[Scenario]] = {}
    heads: dict[_Key, Cause] = {}
    consequences: list[tuple[_Key, Scenario]] = []

    def add(key: _Key, head: Cause, scenario: Scenario) -> None:
        heads.setdefault(key, head)
        members = groups.setdefault(key, [])
        if not any(member is scenario for member in members):
            members.append(scenario)

    for scenario in scenarios:
        for loss in scenario.losses:
            lost = Cause(loss.component, loss.message, (), loss=True)
            add(("loss", loss.component, _key(loss.message)), lost, scenario)
        if scenario.outcome != "failed":
            continue
        failures: list[Diagnosis | None] = [d for d in scenario.failures if not d.loss]
        if not failures and not scenario.losses:
            failures = [None]  # failed without a diagnosis
        named: set[str | None] = set()
        for diagnosis in failures:
            key, cause = _cause(diagnosis, broken)
            if cause.component in named:
                consequences.append((key, scenario))
            else:
                named.add(cause.component)
                add(key, cause, scenario)
    for key, scenario in consequences:
        if key in heads:
            add(key, heads[key], scenario)
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
