"""A failed preflight is one failing case in every report, instead of no report at all.

When the preflight finds a component broken, no scenario can say anything: they are deselected
and a single case named ``preflight`` takes their place, failing with the preflight's lines. So
pytest still writes every report (JUnit XML included: a CI test tab shows the diagnosis) and the
run record still gets its NO-GO. Under xdist the controller hands the lines to the workers, which
collect the same single case. The run record keeps the preflight's own section instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ..errors import Component, DeploymentFault

FAILURES_INPUT = "qtask_preflight_failures"
NAME = "preflight"
_COMPONENTS: tuple[Component, ...] = ("api", "database", "queue", "workers")


class PreflightCase(pytest.Item):
    """The one case of a run whose preflight failed."""

    failures: Sequence[str] = ()

    @property
    def diagnosis(self) -> str:
        return "preflight failed, no scenario was run: " + "; ".join(self.failures)

    def runtest(self) -> None:
        component = self.failures[0].split(":", 1)[0] if self.failures else ""
        raise DeploymentFault(
            next((c for c in _COMPONENTS if c == component), "api"), self.diagnosis
        )

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: object = None,
    ) -> str:
        return self.diagnosis

    def reportinfo(self) -> tuple[str, int | None, str]:
        return NAME, None, NAME


def replace_scenarios(
    session: pytest.Session,
    config: pytest.Config,
    items: list[pytest.Item],
    failures: Sequence[str],
) -> None:
    """Deselect every scenario and collect the failing preflight case instead."""
    if items:
        config.hook.pytest_deselected(items=list(items))
    case = PreflightCase.from_parent(session, name=NAME, nodeid=NAME)
    case.failures = tuple(failures)
    items[:] = [case]


def is_preflight_case(nodeid: str) -> bool:
    """The run record leaves the case out: its preflight section already says it all."""
    return nodeid == NAME


def hand_to_worker(node: object, failures: Sequence[str]) -> None:
    """Tell an xdist worker the preflight's failures (it collects the case, not the scenarios)."""
    node.workerinput[FAILURES_INPUT] = list(failures)  # type: ignore[attr-defined]


def worker_failures(config: pytest.Config) -> list[str]:
    workerinput = getattr(config, "workerinput", {})
    return list(workerinput.get(FAILURES_INPUT) or [])
